"""Centre events go to the Prefect server and come back to the decision module: the newest node
state of each centre, degraded or not. The test bed's Prefect server, its events API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def shares_once_seen(centres: list[str], expected: dict[str, float]) -> dict[str, float]:
    """What the planner reads, once the server has stored the events just emitted (or 30 s)."""
    from heroes.tasks.centre_events import unavailable_shares

    deadline = time.monotonic() + 30
    while True:
        found = unavailable_shares(centres)
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(1)


def emit(centre: str, event: str, **payload: Any) -> None:
    from prefect.events import emit_event

    from heroes.tasks.centre_events import centre_resource

    emit_event(event=event, resource=centre_resource(centre), payload=payload)


def test_the_planner_reads_the_newest_node_state_each_centre_reported(blocks) -> None:  # type: ignore[no-untyped-def]
    from prefect import flow

    from heroes.tasks.centre_events import CENTRE_DEGRADED, CENTRE_NODES_OK

    half, whole = f"centre-{uuid.uuid4().hex[:8]}", f"centre-{uuid.uuid4().hex[:8]}"

    @flow(name="emit-centre-events")
    def report() -> None:
        emit(half, CENTRE_DEGRADED, total_cpus=8, unavailable_cpus=4, idle_cpus=0, usable=True)
        emit(whole, CENTRE_DEGRADED, total_cpus=4, unavailable_cpus=4, idle_cpus=0, usable=False)

    report()
    assert shares_once_seen([half, whole], {half: 0.5, whole: 1.0}) == {half: 0.5, whole: 1.0}

    @flow(name="emit-centre-events")
    def repaired() -> None:
        time.sleep(1.1)  # a newer event than the degraded one
        emit(whole, CENTRE_NODES_OK, total_cpus=4, unavailable_cpus=0, idle_cpus=4, usable=True)

    repaired()
    assert shares_once_seen([half, whole], {half: 0.5}) == {half: 0.5}
    assert shares_once_seen([f"centre-{uuid.uuid4().hex[:8]}"], {}) == {}  # nothing said: nothing assumed
