"""One change at a time to a cloud cluster's compute nodes: a Prefect global concurrency limit per cluster.

A workflow's lease on a cluster's nodes is a tag (:mod:`heroes_core.cloud.leases`), and acquiring,
releasing and the idle clean-up each read the nodes, decide, then tag, start, launch or stop.
Unserialised, two workflows could launch past the cluster's ``max_nodes``, or one could stop a node
the other is leasing. They run in many processes (workflow runs, their failure hooks, the scheduled
clean-up, an admin's node flow), so the lock is the one thing they all share: the Prefect API.
:func:`cluster_nodes_lock` holds the only slot of the global concurrency limit
``heroes-cloud-nodes-<organisation>.<cluster>`` around such a change.

- The limit must exist, be active and have one slot, or it locks nothing: ``concurrency()`` lets
  everyone through a missing limit (unless ``strict``) and an inactive one (even ``strict``). So it
  is made when missing (tolerating another process making it at the same moment) and put right
  when changed, before every use, and the slot is taken ``strict``.
- The slot is held under a lease that Prefect renews while the holder lives: a holder that was
  killed frees it within :data:`LEASE_S`, a holder whose renewal fails is interrupted (strict), and
  what it was doing undoes itself as a failed start does.
- Waiting longer than ``wait_s`` raises :class:`~heroes_core.cloud.ClusterBusyError` naming the
  cluster and the limit: a workflow then places its jobs elsewhere, the idle clean-up leaves the
  cluster to its next run.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Final

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound

from heroes_core.cloud import ClusterBusyError
from heroes_core.models import NAME_PATTERN, ORGANISATION_PATTERN
from heroes_core.sites import CloudBinding

LIMIT_PREFIX: Final = "heroes-cloud-nodes-"
LEASE_S: Final = 120.0
"""How long a dead holder keeps the slot: Prefect renews the lease every 90 s while the holder lives
(the server accepts no less than 60 s)."""
STOP_WAIT_S: Final = 600.0
"""The longest a holder waits for nodes to stop (a release's ``stop_timeout_s``, the node flows'
default ``timeout``)."""
IDLE_WAIT_S: Final = 120.0
"""The idle clean-up runs every 15 minutes: a cluster busy for longer is left to the next run."""


def nodes_limit_name(organisation: str, cluster: str) -> str:
    """The global concurrency limit that serialises changes to ``cluster``'s compute nodes.

    Both names are checked against the rules :class:`~heroes_core.sites.CloudBinding` holds them to,
    which keep out every character Prefect refuses in a name (``/ % & < >``). The dot cannot occur in
    an organisation's name, so two clusters never share a limit (``a-b`` + ``c`` vs ``a`` + ``b-c``)."""
    if not re.fullmatch(ORGANISATION_PATTERN, organisation):
        raise ValueError(f"{organisation!r} is not an organisation's name: no cloud cluster can belong to it")
    if not re.fullmatch(NAME_PATTERN, cluster):
        raise ValueError(f"{cluster!r} is not a cloud cluster's name")
    return f"{LIMIT_PREFIX}{organisation}.{cluster}"


def lock_wait_s(start_timeout_s: float = 900.0) -> float:
    """How long a change to a cluster's nodes waits for its lock: a holder can wait for nodes to start
    for up to the cluster's ``start_timeout_s`` (its binding's; 900 s by default), or to stop for up
    to :data:`STOP_WAIT_S`; twice that, with a minute for the API calls each, lets one more run queued
    ahead finish too."""
    return 2 * (max(start_timeout_s, STOP_WAIT_S) + 60.0)


def ensure_single_slot_limit(client: SyncPrefectClient, name: str) -> None:
    """Make the global concurrency limit ``name`` exist, active, with one slot and no decay (a decaying
    slot would let a second holder in while the first still holds it)."""
    try:
        found = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=1, active=True, slot_decay_per_second=0.0))
            return
        except ObjectAlreadyExists:  # another process made it since: check what it made
            found = client.read_global_concurrency_limit_by_name(name)
    if found.limit != 1 or not found.active or found.slot_decay_per_second:
        client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(limit=1, active=True, slot_decay_per_second=0.0))


def _logger() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:  # a flow hook run outside any run context
        return logging.getLogger(__name__)


@contextmanager
def cluster_nodes_lock(organisation: str, cluster: str, *, wait_s: float,
                       site: str | None = None) -> Iterator[None]:
    """Hold the only slot of the cluster's limit (:func:`nodes_limit_name`) for the body.

    Waits up to ``wait_s`` seconds, then raises :class:`~heroes_core.cloud.ClusterBusyError` (with
    ``site``, how errors name the cluster). Works outside a run context too (a flow's hooks): it needs
    only the Prefect API."""
    name = nodes_limit_name(organisation, cluster)
    with get_client(sync_client=True) as client:
        ensure_single_slot_limit(client, name)
    began = time.monotonic()
    with ExitStack() as held:
        try:
            held.enter_context(concurrency(name, occupy=1, timeout_seconds=wait_s, lease_duration=LEASE_S,
                                           strict=True))
        except TimeoutError as exc:
            raise ClusterBusyError(
                f"another HEROES run has been changing the compute nodes of the cloud cluster '{cluster}' "
                f"of {organisation} for over {wait_s:.0f} s (the Prefect global concurrency limit {name!r})",
                site=site or f"{organisation}/{cluster}",
                fix=f"try again later; if no run is acquiring or releasing that cluster's nodes, the "
                    f"slot of a run that died frees itself within {LEASE_S:.0f} s (Prefect UI: "
                    f"Concurrency)") from exc
        waited = time.monotonic() - began
        if waited >= 1.0:
            _logger().info("Waited %.0f s for the nodes of cloud cluster %s/%s (another run was changing "
                           "them)", waited, organisation, cluster)
        yield


@contextmanager
def binding_lock(binding: CloudBinding) -> Iterator[None]:
    """:func:`cluster_nodes_lock` for a centre's cloud binding, waiting :func:`lock_wait_s` for it."""
    with cluster_nodes_lock(binding.organisation, binding.cluster,
                            wait_s=lock_wait_s(binding.start_timeout_s), site=binding.site):
        yield


__all__ = ["IDLE_WAIT_S", "LEASE_S", "LIMIT_PREFIX", "STOP_WAIT_S", "binding_lock", "cluster_nodes_lock",
           "ensure_single_slot_limit", "lock_wait_s", "nodes_limit_name"]
