"""The monitor's rounds: each centre polled once, each change announced once, a silent centre
backed off and reported, never its jobs failed. Clocks are scripted: no test waits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from heroes_core.errors import HeroesError
from heroes_core.models import JobState
from heroes_core.monitor import CentreHealth, SiteMonitor, StateChange, TrackedJob, TrackedJobs
from heroes_core.sites import Site
from heroes_core.store import Database
from tests.unit.heroes_core.monitor.fake_centre import FakeJob, FakeSlurm


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Hooks:
    """Records what the monitor did to the world."""

    def __init__(self) -> None:
        self.throttled: list[str] = []
        self.events: list[tuple[str, JobState]] = []
        self.unreachable_said: list[str] = []
        self.answering_said: list[str] = []
        self.reconciled: list[tuple[str, list[str]]] = []
        self.fail_announcing = False
        self.fail_reconciling = False

    def throttle(self, centre: str) -> None:
        self.throttled.append(centre)

    def changed(self, centre: str, changes: Sequence[StateChange]) -> None:
        if self.fail_announcing:
            raise RuntimeError("the events API is away")
        self.events += [(c.key, c.state) for c in changes]

    def unreachable(self, centre: str, error: HeroesError) -> None:
        self.unreachable_said.append(centre)

    def answering(self, centre: str) -> None:
        self.answering_said.append(centre)

    def reconcile(self, centre: str, live: Sequence[TrackedJob]) -> None:
        if self.fail_reconciling:
            raise RuntimeError("the Prefect API is away")
        self.reconciled.append((centre, [job.key for job in live]))


def key(site: str, n: int) -> str:
    return f"heroes-0a1b2c3d-{site}-{n:012d}"


class World:
    def __init__(self, database: Database, *names: str, jobs: int = 2) -> None:
        self.centres = {name: FakeSlurm(name=name) for name in names}
        self.sites = {name: centre.site() for name, centre in self.centres.items()}
        self.tracked = TrackedJobs(database)
        self.hooks = Hooks()
        self.clock = Clock()
        submitted = datetime.now(UTC) - timedelta(minutes=1)
        for name, centre in self.centres.items():
            for n in range(jobs):
                centre.jobs[str(100 + n)] = FakeJob()
                self.tracked.track(key(name, n), name, str(100 + n), f"run-{name}-{n}", "acme",
                                   submitted_at=submitted)
        self.monitor = SiteMonitor(self.tracked, self.open_site, self.hooks, interval_s=30,
                                   max_backoff_s=240, monotonic=self.clock)

    def open_site(self, name: str) -> Site:
        return self.sites[name]

    def rounds(self, count: int) -> None:
        for _ in range(count):
            self.monitor.round()
            self.clock.sleep(30)


def test_each_round_asks_each_centre_once_under_its_rate_limit(database: Database) -> None:
    world = World(database, "hpc1", "hpc2", jobs=20)
    world.rounds(3)
    assert world.hooks.throttled == ["hpc1", "hpc2"] * 3
    for centre in world.centres.values():
        assert (centre.calls("squeue"), centre.calls("sacct")) == (3, 0)
    assert sorted(world.hooks.events) == sorted((key(s, n), JobState.PENDING)
                                                for s in ("hpc1", "hpc2") for n in range(20))


def test_every_change_is_announced_once_and_ended_centres_are_left_alone(database: Database) -> None:
    world = World(database, "hpc1")
    world.rounds(1)
    centre = world.centres["hpc1"]
    centre.jobs["100"] = FakeJob(state="RUNNING", reason="None")
    world.rounds(2)
    centre.end("100")
    centre.end("101", "CANCELLED")
    world.rounds(2)
    assert world.hooks.events == [(key("hpc1", 0), JobState.PENDING), (key("hpc1", 1), JobState.PENDING),
                                  (key("hpc1", 0), JobState.RUNNING), (key("hpc1", 0), JobState.COMPLETED),
                                  (key("hpc1", 1), JobState.CANCELLED)]
    asked = len(centre.transport.calls)
    world.rounds(3)
    assert len(centre.transport.calls) == asked and world.tracked.sites() == []


def test_a_silent_centre_is_backed_off_reported_once_and_its_jobs_keep_their_state(database: Database) -> None:
    world = World(database, "hpc1", "hpc2")
    world.rounds(1)
    down = world.centres["hpc1"]
    down.down = True
    world.rounds(12)  # 6 minutes of silence
    assert world.hooks.unreachable_said == ["hpc1"]
    failed_polls = world.hooks.throttled.count("hpc1") - 1
    assert failed_polls == 3  # at 30, 90 and 210 s (then 60, 120, 240 s apart), not every round
    assert world.hooks.throttled.count("hpc2") == 13  # the other centre keeps its pace
    assert all(job.state is JobState.PENDING for job in world.tracked.live("hpc1"))
    assert {state for _, state in world.hooks.events} == {JobState.PENDING}


def test_a_centre_that_answers_again_is_reported_back_once_and_its_news_announced(database: Database) -> None:
    world = World(database, "hpc1")
    world.rounds(1)
    centre = world.centres["hpc1"]
    centre.down = True
    world.rounds(4)
    centre.end("100")  # the job ended while nobody could see it
    centre.down = False
    world.rounds(12)
    assert (world.hooks.unreachable_said, world.hooks.answering_said) == (["hpc1"], ["hpc1"])
    assert world.hooks.events[-1] == (key("hpc1", 0), JobState.COMPLETED)


def test_one_failed_poll_does_not_take_a_centre_out_of_the_plans(database: Database) -> None:
    world = World(database, "hpc1")
    centre = world.centres["hpc1"]
    centre.down = True
    world.rounds(1)
    centre.down = False
    world.rounds(3)
    assert (world.hooks.unreachable_said, world.hooks.answering_said) == ([], [])


def test_changes_that_could_not_be_announced_are_offered_again(database: Database) -> None:
    world = World(database, "hpc1")
    world.hooks.fail_announcing = True
    world.rounds(2)
    assert world.hooks.events == [] and len(world.tracked.unannounced()) == 2
    world.hooks.fail_announcing = False
    world.rounds(2)
    assert sorted(world.hooks.events) == [(key("hpc1", 0), JobState.PENDING), (key("hpc1", 1), JobState.PENDING)]
    assert world.monitor.announced == 2


def test_a_bounded_run_stops_when_its_time_is_up(database: Database) -> None:
    world = World(database, "hpc1")
    rounds = world.monitor.run(run_for_s=95, sleep=world.clock.sleep)
    assert rounds == 4  # at 0, 30, 60 and 90 s
    assert world.clock.now == 90


def test_back_off_doubles_from_the_interval_and_stops_at_its_cap() -> None:
    health = CentreHealth(interval_s=30, max_backoff_s=200, failures_before_unreachable=3)
    delays, became = [], []
    for _ in range(5):
        became.append(health.failed("hpc1", 0))
        delays.append(health.delay_s("hpc1"))
    assert delays == [60, 120, 200, 200, 200]
    assert became == [False, False, True, False, False]
    assert not health.due("hpc1", 199) and health.due("hpc1", 200)
    assert health.answered("hpc1") and not health.answered("hpc1")


def test_impossible_back_off_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        CentreHealth(interval_s=30, max_backoff_s=10)


def test_after_each_poll_the_live_jobs_are_reconciled_with_their_runs_and_a_failure_waits_a_round(
        database: Database) -> None:
    world = World(database, "hpc1")
    world.hooks.fail_reconciling = True
    world.rounds(1)  # the API away: nothing reconciled, the round goes on
    assert world.hooks.reconciled == [] and len(world.hooks.events) == 2
    world.hooks.fail_reconciling = False
    world.rounds(1)
    assert world.hooks.reconciled == [("hpc1", [key("hpc1", 0), key("hpc1", 1)])]
    world.centres["hpc1"].end("100")
    world.rounds(1)
    assert world.hooks.reconciled[-1] == ("hpc1", [key("hpc1", 1)])  # only what is still live
    world.centres["hpc1"].end("101", "CANCELLED")
    world.rounds(2)
    assert len(world.hooks.reconciled) == 2  # nothing live is left: nothing to reconcile
