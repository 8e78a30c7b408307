"""Centre events: a centre's node state as Prefect events, and the decision module reading them back.

The compliance check emits ``heroes.centre.degraded`` (nodes down or drained, with the CPU
counts) or ``heroes.centre.nodes-ok``; automations and people see them in the Prefect UI, and the
planner reads the newest of each centre (:func:`unavailable_shares`) to lengthen a degraded
centre's expected wait or leave out one whose every node is down. A centre whose state cannot be
read is reported as a warning, never failed on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

from heroes.tasks.resolve import load_centre
from heroes_core.errors import HeroesError

CENTRE_DEGRADED: Final = "heroes.centre.degraded"
CENTRE_NODES_OK: Final = "heroes.centre.nodes-ok"
LOGGER = logging.getLogger("heroes.decision")
FRESH_FOR: Final = timedelta(hours=24)
"""How long a node-state event speaks for its centre (the compliance check runs more often)."""


def centre_resource(centre: str) -> dict[str, str]:
    return {"prefect.resource.id": f"heroes.centre.{centre}", "prefect.resource.name": centre}


def report_nodes(centre: str) -> None:
    """Emit the centre's node state as an event, read from its scheduler (``sinfo``)."""
    try:
        load = load_centre(centre).site().scheduler.load()
    except HeroesError as error:
        get_run_logger().warning("Node state of %s unknown: %s", centre, error)
        return
    emit_event(event=CENTRE_DEGRADED if load.degraded else CENTRE_NODES_OK, resource=centre_resource(centre),
               payload={"total_cpus": load.total_cpus, "unavailable_cpus": load.unavailable_cpus,
                        "idle_cpus": load.idle_cpus, "usable": load.usable})
    if load.degraded:
        get_run_logger().warning("Centre %s is degraded: %d of %d CPUs on nodes down or drained", centre,
                                 load.unavailable_cpus, load.total_cpus)


def _share(payload: dict[str, Any]) -> float:
    total = float(payload.get("total_cpus") or 0)
    return min(1.0, float(payload.get("unavailable_cpus") or 0) / total) if total > 0 else 1.0


def unavailable_shares(centres: list[str]) -> dict[str, float]:
    """Centre -> the share of its CPUs its newest node-state event (of the last day) reported down.

    One query per centre for its newest event (the API returns the newest first and at most 50
    per page, so one query for all could miss a quiet centre behind a chatty one).
    """
    since = EventOccurredFilter.model_validate({"since": datetime.now(UTC) - FRESH_FOR})
    names = EventNameFilter(name=[CENTRE_DEGRADED, CENTRE_NODES_OK])
    shares: dict[str, float] = {}
    try:
        with get_client(sync_client=True) as client:
            for centre in centres:
                resource = EventResourceFilter(id=[centre_resource(centre)["prefect.resource.id"]])
                query = EventFilter(occurred=since, event=names, resource=resource)
                newest = client.read_events(filter=query, limit=1).events
                if newest and newest[0].event == CENTRE_DEGRADED:
                    shares[centre] = _share(newest[0].payload)
    except Exception as error:  # the events are advice: planning goes on from the scheduler's figures
        LOGGER.warning("Centre events not read (%s): planning from the centres' own figures", error)
        return {}
    return shares
