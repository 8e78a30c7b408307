"""The site monitor against the test bed: real held Slurm jobs on local-slurm over SSH, the
project database (PostgreSQL), the Prefect server's rate limits and events API.

The monitor runs twice, bounded, as its deployment's runs do one after the other: once while the
jobs are held, once after they ended. The second run knows only what the table holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CENTRE = "local-slurm"


def job_events(keys: list[str], since: datetime, expected: int) -> list[Any]:
    """The heroes.job.* events of ``keys``, once the server holds ``expected`` of them (or 30 s)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

    from heroes.tasks.monitor import job_resource_id

    query = EventFilter(occurred=EventOccurredFilter.model_validate({"since": since}),
                        event=EventNameFilter(prefix=["heroes.job."]),
                        resource=EventResourceFilter(id=[job_resource_id(k) for k in keys]))
    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            found = client.read_events(filter=query, limit=50).events
        if len(found) >= expected or time.monotonic() > deadline:
            return sorted(found, key=lambda e: e.occurred)
        time.sleep(1)


def wait_until(site: Any, ids: list[str], since: datetime, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        statuses = site.scheduler.query(ids, since=since)
        if all(done(statuses[i]) for i in ids):
            return statuses
        assert time.monotonic() < deadline, f"jobs never got there: {statuses}"
        time.sleep(1)


@pytest.fixture
def held_jobs(site: Any) -> Iterator[tuple[list[str], list[str]]]:
    """Three held jobs (one will succeed, one fail, one be cancelled while running): keys, ids."""
    from heroes_core import jobs
    from heroes_core.models import UserArea
    from heroes_core.schedulers import JobSubmission

    tag = uuid.uuid4().hex[:12]
    keys = [f"heroes-itest-monitor-{tag}-{n}" for n in range(3)]
    job_dir = jobs.ensure_job_directory(site, UserArea(organisation="itest", user="monitor"), keys[0])
    ids: list[str] = []
    try:
        for key, script in zip(keys, ("true", "exit 3", "sleep 300"), strict=True):
            ids.append(site.scheduler.submit(JobSubmission(
                key=key, job_dir=job_dir, partition="debug", hold=True,
                script=f"#!/bin/bash\n{script}\n")))
        yield keys, ids
    finally:
        site.scheduler.cancel(ids)


def test_the_monitor_announces_each_jobs_changes_to_its_flow_run(blocks, site, held_jobs) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from heroes.flows.architecture.monitor import login_limit_name, monitor_sites
    from heroes.tasks.monitor import tracked_jobs
    from heroes_core.models import JobState

    keys, ids = held_jobs
    started = datetime.now(UTC) - timedelta(seconds=5)
    runs = [str(uuid.uuid4()) for _ in keys]
    tracked = tracked_jobs("heroes-database")
    for key, job_id, run in zip(keys, ids, runs, strict=True):
        tracked.track(key, CENTRE, job_id, run, "itest", submitted_at=started)
        tracked.track(key, CENTRE, job_id, run, "itest", submitted_at=started)  # twice: one job

    summary = monitor_sites(centres=[CENTRE], interval_s=2, run_for_s=1, database="heroes-database")
    assert summary["rounds"] == 1 and summary["announced"] >= 3  # other tests' jobs may be live there
    assert [tracked.get(k).state for k in keys] == [JobState.HELD] * 3  # type: ignore[union-attr]

    site.transport.check(["scontrol", "release", *ids])
    wait_until(site, ids, started, lambda s: s.state.is_final or s.state is JobState.RUNNING)
    wait_until(site, ids[2:], started, lambda s: s.state is JobState.RUNNING)
    site.scheduler.cancel(ids[2:])
    wait_until(site, ids, started, lambda s: s.state.is_final)

    monitor_sites(centres=[CENTRE], interval_s=2, run_for_s=1, database="heroes-database")
    ended = [tracked.get(k) for k in keys]
    assert [(j.state, j.exit_code) for j in ended] == [  # type: ignore[union-attr]
        (JobState.COMPLETED, 0), (JobState.FAILED, 3), (JobState.CANCELLED, ended[2].exit_code)]  # type: ignore[union-attr]
    assert not any(job.key in keys for job in tracked.live(CENTRE))

    events = job_events(keys, started, expected=6)
    by_key: dict[str, list[str]] = {}
    for event in events:
        key = event.resource.id.removeprefix("heroes.job.")
        by_key.setdefault(key, []).append(event.event)
        runs_named = [r.id for r in event.related if r.role == "flow-run"]
        assert runs_named == [f"prefect.flow-run.{runs[keys.index(key)]}"], event  # not the monitor's run
        assert [r.id for r in event.related if r.role == "centre"] == [f"heroes.centre.{CENTRE}"]
        assert event.resource["heroes.scheduler-job-id"] == ids[keys.index(key)]
        assert event.resource["heroes.site"] == CENTRE
    assert by_key == {keys[0]: ["heroes.job.held", "heroes.job.completed"],
                      keys[1]: ["heroes.job.held", "heroes.job.failed"],
                      keys[2]: ["heroes.job.held", "heroes.job.cancelled"]}
    failed = next(e for e in events if e.event == "heroes.job.failed")
    assert (failed.payload["previous"], failed.payload["state"], failed.payload["exit_code"]) == (
        "HELD", "FAILED", 3)

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(login_limit_name(CENTRE))
    assert (limit.limit, limit.slot_decay_per_second) == (1, pytest.approx(1 / 10))


def test_a_centre_that_does_not_answer_is_reported_down_and_its_jobs_are_not_failed(blocks) -> None:  # type: ignore[no-untyped-def]
    import socket

    from heroes.blocks import HPCCentre
    from heroes.flows.architecture.monitor import monitor_sites
    from heroes.tasks.centre_events import unavailable_shares
    from heroes.tasks.monitor import tracked_jobs
    from heroes_core.models import JobState
    from tests.integration.block_copies import save_copy

    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    dead = f"itest-dead-{uuid.uuid4().hex[:8]}"
    save_copy(HPCCentre.load(CENTRE), dead, port=closed, connect_timeout=2.0)
    key = f"heroes-itest-monitor-{uuid.uuid4().hex[:12]}"
    tracked = tracked_jobs("heroes-database")
    try:
        tracked.track(key, dead, "424242", str(uuid.uuid4()), "itest", submitted_at=datetime.now(UTC))
        summary = monitor_sites(centres=[dead], interval_s=2, run_for_s=1, database="heroes-database",
                                failures_before_unreachable=1)
        assert summary["unreachable"] == [dead]
        job = tracked.get(key)
        assert job is not None and job.state is JobState.UNKNOWN  # not failed for the silence
        deadline = time.monotonic() + 30
        while unavailable_shares([dead]) != {dead: 1.0} and time.monotonic() < deadline:
            time.sleep(1)
        assert unavailable_shares([dead]) == {dead: 1.0}  # the planner leaves it out
    finally:
        tracked.forget(key)
        HPCCentre.delete(dead)
