"""Cluster-level node operations, the same on every provider.

A persistent private cloud cluster keeps its compute nodes *stopped* when there
is no work (disks kept, no compute charge) and starts them on demand; a
temporary node lives for one workflow and is terminated afterwards. Idle
clean-up therefore stops idle cluster compute nodes and terminates idle
temporary nodes; headnodes and nodes a workflow leases are never touched.

These read a cluster's nodes, decide, then act, like the leases of :mod:`.leases`,
and need the same per-cluster serialisation from their callers (said there); the
idle clean-up takes it per cluster itself when given a :data:`ClusterLock`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from heroes_core.cloud.base import (
    TAG_CLUSTER,
    TAG_ORGANISATION,
    TAG_ROLE,
    TAG_WORKFLOW,
    Node,
    NodeProvider,
    NodeSpec,
    heroes_tags,
)
from heroes_core.cloud.errors import ClusterBusyError

ClusterLock = Callable[[str, str], AbstractContextManager[object]]
"""``(organisation, cluster)`` -> a context that holds off every other change to that cluster's
compute nodes while it is held, or raises :class:`ClusterBusyError` if it cannot be had in time.
The tasks layer makes it from a Prefect global concurrency limit; the core knows no lock."""


class IdleReport(BaseModel):
    """What an idle clean-up did; ``busy``: the clusters (``organisation/cluster``) it left to its next run
    because another run held their lock too long."""

    model_config = ConfigDict(frozen=True)

    terminated: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()


def cluster_tags(organisation: str, cluster: str) -> dict[str, str]:
    return {TAG_ORGANISATION: organisation, TAG_CLUSTER: cluster, TAG_ROLE: "compute"}


def temporary_tags(organisation: str, workflow: str | None = None) -> dict[str, str]:
    """The tags that select an organisation's temporary nodes (of one workflow, if named)."""
    if not organisation:
        raise ValueError("temporary nodes belong to an organisation: name it")
    tags = {TAG_ORGANISATION: organisation, TAG_ROLE: "temporary"}
    if workflow:
        tags[TAG_WORKFLOW] = workflow
    return tags


def _oldest_first(nodes: Sequence[Node]) -> list[Node]:
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(nodes, key=lambda n: (n.last_used or never, n.id))


def start_cluster_nodes(provider: NodeProvider, organisation: str, cluster: str, count: int, *,
                        template: NodeSpec | None = None, timeout: float = 600.0) -> list[Node]:
    """Have ``count`` more compute nodes of the cluster running.

    Stopped nodes are started first (least recently used first); if there are
    not enough and ``template`` is given, new compute nodes are launched from it.
    Returns the nodes started or launched, running and marked used.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    tags = cluster_tags(organisation, cluster)
    stopped = _oldest_first(provider.list_nodes(tags, states=("stopped",)))[:count]
    ids = [n.id for n in stopped]
    if ids:
        provider.start(ids)
    missing = count - len(ids)
    if missing > 0 and template is not None:
        new = provider.deploy(template, missing,
                              heroes_tags(organisation, role="compute", cluster=cluster))
        ids += [n.id for n in new]
    nodes = provider.wait_for_state(ids, "running", timeout=timeout) if ids else []
    provider.mark_used(ids)
    return nodes


def stop_cluster_nodes(provider: NodeProvider, organisation: str, cluster: str, count: int, *,
                       timeout: float = 600.0) -> list[str]:
    """Stop ``count`` running compute nodes of the cluster, least recently used first; a node a
    workflow leases (:mod:`heroes_core.cloud.leases`) is never stopped."""
    if count < 1:
        raise ValueError("count must be at least 1")
    now = datetime.now(UTC)
    running = _oldest_first([n for n in provider.list_nodes(cluster_tags(organisation, cluster),
                                                            states=("running",)) if not n.leased_by(now)])
    ids = [n.id for n in running[:count]]
    if ids:
        provider.stop(ids)
        provider.wait_for_state(ids, "stopped", timeout=timeout)
    return ids


def _cluster_of(node: Node) -> tuple[str, str]:
    return node.tags.get(TAG_ORGANISATION, ""), node.tags.get(TAG_CLUSTER, "")


def terminate_idle_nodes(provider: NodeProvider, idle_minutes: float, *, now: datetime | None = None,
                         organisation: str | None = None,
                         cluster_lock: ClusterLock | None = None) -> IdleReport:
    """Terminate idle temporary nodes and stop idle cluster compute nodes; a node with an
    unexpired lease is never idle (:meth:`NodeProvider.idle_nodes`), whatever its last use.

    Each cluster's idle compute nodes are looked up again and stopped while its ``cluster_lock``
    is held: a workflow may have leased one since the first look, and then it must keep running.
    A cluster whose lock is not had in time is left to the next run (``busy``). Temporary nodes
    need no lock: they are no cluster's, and only their own workflow deploys them."""
    if idle_minutes <= 0:
        raise ValueError("idle_minutes must be positive")
    idle = provider.idle_nodes(idle_minutes, now=now, organisation=organisation)
    temporary = sorted(n.id for n in idle if n.role == "temporary")
    if temporary:
        provider.terminate(temporary)
    stopped: list[str] = []
    busy: list[str] = []
    for org, cluster in sorted({_cluster_of(n) for n in idle if n.role == "compute"}):
        try:
            with cluster_lock(org, cluster) if cluster_lock else nullcontext():
                compute = sorted(n.id for n in provider.idle_nodes(idle_minutes, roles=("compute",), now=now,
                                                                     organisation=org or organisation)
                                 if _cluster_of(n) == (org, cluster))
                if compute:
                    provider.stop(compute)
        except ClusterBusyError:
            busy.append(f"{org}/{cluster}")
            continue
        stopped += compute
    return IdleReport(terminated=tuple(temporary), stopped=tuple(sorted(stopped)), busy=tuple(busy))
