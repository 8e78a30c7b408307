"""A workflow's hold on its cloud cluster's compute nodes: acquire (start) and release (stop).

A private cloud cluster keeps its compute nodes stopped while no workflow needs
them. Before a job runs there, :func:`acquire_nodes` leases as many nodes as it
needs to the workflow: it tags them ``heroes:lease-<workflow>`` = expiry (see
:mod:`heroes_core.cloud.base`), running ones first (Slurm shares them between
workflows, so a running node costs nothing more), then starts stopped ones. The
lease is tagged *before* a node is started, so an idle clean-up running at that
moment cannot stop it. If the nodes do not come up (a provider error, a timeout),
whatever this call started is stopped again and the lease dropped before the
error is raised: the caller re-places the job without a node left running.

:func:`release_nodes` drops the workflow's lease (and any expired lease left by a
workflow that died) and stops the nodes no unexpired lease holds any more.

Leases live on the nodes themselves, as tags, for the same reason the other
HEROES tags do: a later run, a hook in another process, or the idle clean-up
sees them without a local record.

Callers must serialise every change to one cluster's leases and nodes: these
functions (and the idle clean-up and node operations of :mod:`.operations`)
read the cluster's nodes, decide, then tag, start, launch or stop, and a tag is
no lock. Two acquires on one cluster at once would each launch nodes up to
``max_nodes``, together past it; a release could stop a node that another
workflow is leasing at that moment (which then runs on a node being stopped);
the idle clean-up's stop races an acquire the same way. The calls come from many
processes (workflow runs, their hooks, the scheduled clean-up), so the lock has
to be shared by all of them: the tasks layer holds a Prefect global concurrency
limit of one slot per cluster around each call (:mod:`heroes.tasks.cloud_locks`).
Only :func:`holds_lease` may be asked without it, since no one but the workflow
itself adds its lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.cloud.base import (
    TAG_CLUSTER,
    TAG_ORGANISATION,
    TAG_ROLE,
    Node,
    NodeProvider,
    NodeSpec,
    heroes_tags,
    lease_tag,
)
from heroes_core.cloud.errors import CloudError
from heroes_core.sites import CloudBinding

logger = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)


class NodeStartError(CloudError):
    """A cloud cluster's compute nodes could not be had for a job; none of them was left running."""


class Lease(BaseModel):
    """The nodes a workflow holds on a cluster until ``until``, and which of them it started: at
    ``at``, running ``startup_s`` later (the provider bills that time, see :mod:`.billing`)."""

    model_config = ConfigDict(frozen=True)

    workflow: str
    nodes: tuple[str, ...]
    started: tuple[str, ...]
    until: datetime
    at: datetime
    startup_s: float = Field(default=0.0, ge=0)


class Release(BaseModel):
    """What releasing a workflow's lease did."""

    model_config = ConfigDict(frozen=True)

    released: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()


def _cluster_tags(binding: CloudBinding) -> dict[str, str]:
    return {TAG_ORGANISATION: binding.organisation, TAG_CLUSTER: binding.cluster, TAG_ROLE: "compute"}


def cluster_nodes(provider: NodeProvider, binding: CloudBinding) -> list[Node]:
    """The cluster's compute nodes that are not terminated."""
    return provider.list_nodes(_cluster_tags(binding))


def running_nodes(provider: NodeProvider, binding: CloudBinding) -> int:
    """How many of the cluster's compute nodes are running now (a job on them has no start-up)."""
    return len(provider.list_nodes(_cluster_tags(binding), states=("running",)))


def holds_lease(provider: NodeProvider, binding: CloudBinding, workflow: str) -> bool:
    """Whether any of the cluster's nodes carries ``workflow``'s lease, expired or not.

    A release that would find nothing can skip the cluster's lock: only the workflow itself
    adds its lease, and it does not acquire while it releases."""
    key = lease_tag(workflow)
    return any(key in node.tags for node in cluster_nodes(provider, binding))


def _expired(node: Node, now: datetime) -> list[str]:
    return [lease_tag(workflow) for workflow, until in node.leases.items() if until is None or until <= now]


def acquire_nodes(provider: NodeProvider, binding: CloudBinding, workflow: str, count: int, *,
                  hold_s: float, now: datetime | None = None) -> Lease:
    """Lease ``count`` compute nodes of the cluster to ``workflow`` for ``hold_s`` seconds, running.

    Nodes this workflow already leases come first (the lease is renewed), then other running
    nodes, then stopped nodes, which are started, then, when the binding names a compute node
    template, new nodes launched from it while the cluster has fewer than ``max_nodes`` (a cluster
    fresh from its Terraform module has none). Started and launched nodes are waited for up to the
    binding's ``start_timeout_s``. Raises :class:`NodeStartError` when the cluster cannot have
    enough nodes or they do not start; first, the nodes this call started are stopped again, those
    it launched terminated and its lease dropped.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    moment = now or datetime.now(UTC)
    until = moment + timedelta(seconds=hold_s)
    key = lease_tag(workflow)
    nodes = cluster_nodes(provider, binding)
    mine = [n for n in nodes if key in n.tags and n.state in ("pending", "running")]
    others = sorted((n for n in nodes if key not in n.tags and n.state in ("pending", "running")),
                    key=lambda n: (n.last_used or _NEVER, n.id), reverse=True)  # warmest first
    stopped = sorted((n for n in nodes if n.state == "stopped"), key=lambda n: (n.last_used or _NEVER, n.id))
    chosen = (mine + others)[:count]
    to_start = stopped[:count - len(chosen)]
    to_launch = min(count - len(chosen) - len(to_start), _room(binding, nodes))
    if len(chosen) + len(to_start) + to_launch < count:
        raise NodeStartError(
            f"the cluster '{binding.cluster}' has {len(nodes)} compute node(s) that can run "
            f"({len(mine) + len(others)} running, {len(stopped)} stopped; others stopping or gone)"
            f"{_launch_limit(binding)}: {count} needed", site=binding.site,
            fix="run integrate-cloud-platform again to recreate the cluster's nodes and its template, "
                "raise max_compute_nodes, or lower the job's node count")
    leased = [n.id for n in chosen + to_start]
    started = [n.id for n in to_start]
    launched: list[str] = []
    startup_s = 0.0
    try:
        if leased:
            provider.set_tags(leased, {key: until.isoformat()})
        began = time.monotonic()
        if started:
            provider.start(started)
        if to_launch:
            launched = _launch(provider, binding, to_launch, {key: until.isoformat()}, moment)
        if started or launched:
            provider.wait_for_state([*started, *launched], "running", timeout=binding.start_timeout_s)
            startup_s = time.monotonic() - began
        provider.mark_used([*leased, *launched], at=moment)
    except BaseException as exc:
        _undo(provider, started, launched, leased, key, exc)
        if isinstance(exc, Exception):
            raise NodeStartError(
                f"{len(started) + to_launch} compute node(s) of the cluster '{binding.cluster}' "
                f"({binding.instance_type} in {binding.region}) did not start: {exc}", site=binding.site,
                fix="see the provider's error above; the job is placed elsewhere if it can be, and the "
                    "nodes HEROES started for it were stopped again (those it launched terminated)") from exc
        raise
    return Lease(workflow=workflow, nodes=(*leased, *launched), started=(*started, *launched), until=until,
                 at=moment, startup_s=startup_s)


def _room(binding: CloudBinding, nodes: Sequence[Node]) -> int:
    """How many nodes may be launched from the binding's template: up to ``max_nodes`` in all."""
    return max(binding.max_nodes - len(nodes), 0) if binding.launch_template else 0


def _launch_limit(binding: CloudBinding) -> str:
    if not binding.launch_template:
        return " and no compute node template to launch more from"
    return f" and may have {binding.max_nodes} (max_compute_nodes)"


def _launch(provider: NodeProvider, binding: CloudBinding, count: int, lease: Mapping[str, str],
            moment: datetime) -> list[str]:
    """Launch ``count`` compute nodes from the binding's template, tagged for the cluster and already under
    the workflow's lease (an idle clean-up never sees them unleased)."""
    assert binding.launch_template is not None
    spec = NodeSpec(instance_type=binding.instance_type, image_id="",
                    launch_template_id=binding.launch_template)
    tags = {**heroes_tags(binding.organisation, role="compute", cluster=binding.cluster, now=moment), **lease}
    return [n.id for n in provider.deploy(spec, count, tags)]


def _undo(provider: NodeProvider, started: Sequence[str], launched: Sequence[str], leased: Sequence[str],
          key: str, cause: BaseException) -> None:
    """Stop what was started, terminate what was launched, drop the lease from the nodes ``leased`` before
    (the launched ones go with it); a failure here is added to ``cause``, never hides it."""
    try:
        if leased:
            provider.remove_tags(leased, [key])
        if started:
            provider.stop(started)
            logger.warning("stopped node(s) %s again after: %s", ", ".join(started), cause)
        if launched:
            provider.terminate(launched)
            logger.warning("terminated the node(s) %s launched for it after: %s", ", ".join(launched), cause)
    except Exception as cleanup:
        logger.error("could not stop node(s) %s: %s", ", ".join([*started, *launched]), cleanup)
        cause.add_note(f"HEROES could not stop node(s) {', '.join(started)} or terminate "
                       f"{', '.join(launched) or 'none'}: {cleanup}; do it and remove their tag {key}")


def release_nodes(provider: NodeProvider, binding: CloudBinding, workflow: str, *,
                  now: datetime | None = None, stop_timeout_s: float = 600.0) -> Release:
    """Drop ``workflow``'s lease on the cluster's nodes; stop those no unexpired lease holds.

    Expired leases (of workflows that died) are dropped on the way. Idempotent: a second
    call finds nothing to release. Nodes the workflow never leased are left alone.
    """
    moment = now or datetime.now(UTC)
    key = lease_tag(workflow)
    nodes = cluster_nodes(provider, binding)
    released, to_stop = [], []
    for node in nodes:
        if key not in node.tags:
            continue
        released.append(node.id)
        provider.remove_tags([node.id], sorted({key, *_expired(node, moment)}))
        if node.state in ("pending", "running") and not node.leased_by(moment, besides=workflow):
            to_stop.append(node.id)
    if released:
        provider.mark_used(released, at=moment)
    if to_stop:
        provider.stop(to_stop)
        provider.wait_for_state(to_stop, "stopped", timeout=stop_timeout_s)
    return Release(released=tuple(released), stopped=tuple(to_stop))
