"""Job times are instants: the orchestrator's own time zone must change nothing.

The orchestrator here runs at UTC+14 (Pacific/Kiritimati) while the centre runs
at UTC, the largest gap there is. A scripted centre answers ``sacct`` as Slurm
does: an absolute ``--starttime`` is read in the centre's zone, ``now-N`` is
counted back from the centre's clock, and only jobs still running after the
start time are listed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heroes_core.jobs import JobTracker
from heroes_core.models import JobState
from heroes_core.sites import Site, SiteConfig, open_site
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

KIRITIMATI = timedelta(hours=14)


@pytest.fixture
def orchestrator_at_utc_plus_14(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    assert datetime.now().astimezone().utcoffset() == KIRITIMATI
    yield
    monkeypatch.undo()
    time.tzset()


class Centre:
    """A Slurm centre at UTC with one job that finished a minute ago."""

    def __init__(self) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        self.submitted = now - timedelta(minutes=3)
        self.started = now - timedelta(minutes=2)
        self.ended = now - timedelta(minutes=1)
        self.transport = ScriptedTransport({"squeue": "", "sacct": self.sacct, "env": self.env})

    def env(self, argv: list[str], stdin: bytes | None):  # type: ignore[no-untyped-def]
        assert argv[1] == "SLURM_TIME_FORMAT=%s"
        return self.sacct(argv[2:], stdin, epoch=True) if argv[2] == "sacct" else ok(argv, "")

    def sacct(self, argv: list[str], stdin: bytes | None, *, epoch: bool = False):  # type: ignore[no-untyped-def]
        start = next(a for a in argv if a.startswith("--starttime=")).partition("=")[2]
        relative = re.fullmatch(r"now-(\d+)(seconds|days)", start)
        if relative:
            unit = {"seconds": 1, "days": 86400}[relative[2]]
            since = datetime.now(UTC) - timedelta(seconds=int(relative[1]) * unit)
        else:
            since = datetime.fromisoformat(start).replace(tzinfo=UTC)  # the centre's zone
        if self.ended < since:
            return ok(argv, "")

        def shown(t: datetime) -> str:
            return str(int(t.timestamp())) if epoch else t.replace(tzinfo=None).isoformat()
        return ok(argv, f"21|COMPLETED|0:0|None|{shown(self.submitted)}|{shown(self.started)}|"
                        f"{shown(self.ended)}\n")


def slurm_site(transport: ScriptedTransport) -> Site:
    site = open_site(SiteConfig(name="hpc1", host="h", user="svc", work_root="/w",
                                transport="local", scheduler="slurm", partitions=("debug",)))
    site.transport = transport
    site.scheduler.transport = transport
    return site


@pytest.mark.usefixtures("orchestrator_at_utc_plus_14")
def test_a_finished_job_is_found_with_its_true_times_when_the_orchestrator_is_at_utc_plus_14(
) -> None:
    centre = Centre()
    tracker = JobTracker(slurm_site(centre.transport))
    tracker.track("21")
    status = tracker.poll()["21"]
    assert status.state is JobState.COMPLETED
    assert (status.submit_time, status.start_time, status.end_time) == (
        centre.submitted, centre.started, centre.ended)
    assert status.end_time is not None and status.end_time.utcoffset() == timedelta(0)


@pytest.mark.usefixtures("orchestrator_at_utc_plus_14")
def test_the_tracker_remembers_an_aware_instant_not_a_local_wall_clock() -> None:
    tracker = JobTracker(slurm_site(Centre().transport))
    before = datetime.now(UTC)
    tracker.track("21")
    after = datetime.now(UTC)
    assert tracker.since is not None and before <= tracker.since <= after
    submitted = before.replace(microsecond=0) - timedelta(hours=5)
    tracker.track("22", submitted=submitted.astimezone())  # given in the local zone
    assert tracker.since == submitted


def test_the_tracker_refuses_a_naive_submission_time() -> None:
    tracker = JobTracker(slurm_site(Centre().transport))
    with pytest.raises(ValueError, match="time zone"):
        tracker.track("21", submitted=datetime(2026, 11, 29, 23, 30))
