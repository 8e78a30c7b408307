"""The node provider interface: start, stop, deploy, terminate and check cloud nodes.

Every node HEROES creates carries four tags, so that anything it started can be
found again, by a later run or by a clean-up hook, without a local record:

``heroes:organisation``  the organisation it was started for
``heroes:workflow``      the workflow (flow run) that started it; "" for cluster nodes
``heroes:role``          ``compute`` (a persistent cluster's on-demand node),
                         ``temporary`` (a short-lived node of one workflow) or ``headnode``
``heroes:cluster``       the organisation's private cloud cluster, "" for temporary nodes

plus ``heroes:last-used`` (ISO 8601, UTC), which HEROES updates whenever it
gives a node work; idle detection reads it (falling back to the launch time),
so no CloudWatch is needed.

**Leases.** A cluster compute node a workflow is using carries
``heroes:lease-<workflow id>`` = its expiry (ISO 8601, UTC), one tag per
workflow (several workflows may share a node, as Slurm shares it). Idle
clean-up never stops or terminates a node with an unexpired lease, whatever its
last-used time: a long job that gives its node no new work is still using it.
A lease expires so that a workflow whose process died cannot hold nodes for
ever. ``-`` rather than ``:`` after ``lease`` because OCI tag keys cannot hold
``:`` (see :mod:`heroes_core.cloud.oci`). :mod:`heroes_core.cloud.leases`
takes and drops them.

**No orphans.** :func:`deploy_temporary` is a context manager that terminates
the nodes it deployed on any exception, including ``KeyboardInterrupt`` and a
cancellation; the flows also terminate by workflow tag in their failure and
cancellation hooks, which covers a process that died between the two.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from heroes_core.cloud.errors import NodeUnhealthyError
from heroes_core.cloud.host_keys import host_keys_from_console

logger = logging.getLogger(__name__)

TAG_ORGANISATION = "heroes:organisation"
TAG_WORKFLOW = "heroes:workflow"
TAG_ROLE = "heroes:role"
TAG_CLUSTER = "heroes:cluster"
TAG_LAST_USED = "heroes:last-used"
TAG_LEASE_PREFIX = "heroes:lease-"


def lease_tag(workflow: str) -> str:
    """The tag key of ``workflow``'s lease on a node."""
    if not workflow or ":" in workflow:
        raise ValueError(f"a lease needs a workflow id without ':', not {workflow!r}")
    return f"{TAG_LEASE_PREFIX}{workflow}"


def _aware(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

Role = Literal["compute", "temporary", "headnode"]
NodeState = Literal["pending", "running", "stopping", "stopped", "shutting-down", "terminated", "unknown"]
ALIVE_STATES: tuple[NodeState, ...] = ("pending", "running", "stopping", "stopped")


class Node(BaseModel):
    """One cloud instance as HEROES sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: NodeState
    instance_type: str
    tags: dict[str, str] = Field(default_factory=dict)
    private_ip: str | None = None
    public_ip: str | None = None
    launched_at: datetime | None = None

    @property
    def role(self) -> str:
        return self.tags.get(TAG_ROLE, "")

    @property
    def last_used(self) -> datetime | None:
        """When HEROES last gave this node work; the launch time if never."""
        value = self.tags.get(TAG_LAST_USED)
        parsed = _aware(value) if value else None
        return parsed if parsed is not None else self.launched_at

    @property
    def leases(self) -> dict[str, datetime | None]:
        """Workflow id -> when its lease on this node expires (None: unreadable, so expired)."""
        return {key[len(TAG_LEASE_PREFIX):]: _aware(value) for key, value in self.tags.items()
                if key.startswith(TAG_LEASE_PREFIX)}

    def leased_by(self, now: datetime, *, besides: str | None = None) -> list[str]:
        """The workflows (other than ``besides``) whose lease on this node has not expired at ``now``."""
        return sorted(workflow for workflow, until in self.leases.items()
                      if workflow != besides and until is not None and until > now)

    def idle_for(self, now: datetime) -> timedelta | None:
        last = self.last_used
        return None if last is None else now - last


class NodeSpec(BaseModel):
    """What to launch: machine type, image and network placement."""

    model_config = ConfigDict(frozen=True)

    instance_type: str
    image_id: str
    subnet_id: str | None = None
    security_group_ids: tuple[str, ...] = ()
    key_name: str | None = None
    user_data: str | None = None
    launch_template_id: str | None = None
    availability_zone: str | None = None


def heroes_tags(organisation: str, *, role: Role, workflow: str = "", cluster: str = "",
                now: datetime | None = None) -> dict[str, str]:
    """The tags every HEROES node carries."""
    if not organisation:
        raise ValueError("a node must belong to an organisation")
    return {TAG_ORGANISATION: organisation, TAG_WORKFLOW: workflow, TAG_ROLE: role,
            TAG_CLUSTER: cluster, TAG_LAST_USED: (now or datetime.now(UTC)).isoformat()}


HealthCheck = Callable[[Node], bool]


class NodeProvider(ABC):
    """Cloud nodes of one account in one region."""

    site: str
    poll_interval: float = 5.0

    @abstractmethod
    def deploy(self, spec: NodeSpec, count: int, tags: Mapping[str, str], *,
               idempotency_key: str | None = None) -> list[Node]:
        """Launch ``count`` nodes (all or none) with ``tags``; they may still be pending."""

    @abstractmethod
    def start(self, node_ids: Sequence[str]) -> None:
        """Start stopped nodes."""

    @abstractmethod
    def stop(self, node_ids: Sequence[str]) -> None:
        """Stop running nodes (their disks are kept)."""

    @abstractmethod
    def terminate(self, node_ids: Sequence[str]) -> None:
        """Terminate nodes for good; unknown or already terminated ids are fine."""

    @abstractmethod
    def list_nodes(self, tags: Mapping[str, str],
                   states: Sequence[NodeState] = ALIVE_STATES) -> list[Node]:
        """Nodes carrying every tag in ``tags`` (and the HEROES organisation tag), in ``states``."""

    @abstractmethod
    def wait_for_state(self, node_ids: Sequence[str], state: Literal["running", "stopped", "terminated"],
                       *, timeout: float) -> list[Node]:
        """Block until every node is in ``state``; :class:`NodeTimeoutError` after ``timeout`` s."""

    @abstractmethod
    def mark_used(self, node_ids: Sequence[str], at: datetime | None = None) -> None:
        """Set ``heroes:last-used`` on the nodes."""

    @abstractmethod
    def set_tags(self, node_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        """Add (or overwrite) ``tags`` on the nodes."""

    @abstractmethod
    def remove_tags(self, node_ids: Sequence[str], keys: Sequence[str]) -> None:
        """Remove the tags ``keys`` from the nodes; absent keys are fine."""

    @abstractmethod
    def console_output(self, node_id: str) -> str:
        """What the provider keeps of the node's serial console, as text ("" if nothing yet)."""

    # --- derived operations, the same on every provider -------------------------------------

    def terminate_by_tags(self, tags: Mapping[str, str]) -> list[str]:
        """Terminate every live node carrying ``tags``; return their ids."""
        ids = [node.id for node in self.list_nodes(tags)]
        if ids:
            self.terminate(ids)
        return ids

    def read_host_keys(self, node_id: str, *, timeout: float) -> list[str]:
        """The SSH host public keys the node printed on its serial console; [] if none by ``timeout``.

        The console is read at least once, then every ``poll_interval`` seconds
        until a key appears (a node prints it at the end of its first boot). See
        :mod:`heroes_core.cloud.host_keys` for why the console, and
        :func:`~heroes_core.cloud.host_keys.pin_host_key` for what to do with the result.
        """
        deadline = time.monotonic() + timeout
        while True:
            keys = host_keys_from_console(self.console_output(node_id))
            if keys or time.monotonic() >= deadline:
                return keys
            time.sleep(self.poll_interval)

    def wait_healthy(self, nodes: Sequence[Node], check: HealthCheck, *, timeout: float,
                     interval: float = 5.0) -> None:
        """Run ``check`` on each node until it passes; raise when one has not passed by ``timeout``."""
        deadline = time.monotonic() + timeout
        pending = {node.id: node for node in nodes}
        while pending:
            for node_id, node in list(pending.items()):
                try:
                    healthy = check(node)
                except Exception as exc:  # a node still booting refuses connections
                    logger.debug("health check of %s: %s", node_id, exc)
                    healthy = False
                if healthy:
                    del pending[node_id]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise NodeUnhealthyError(
                    f"node(s) {', '.join(sorted(pending))} did not pass the health check within "
                    f"{timeout:.0f} s", site=self.site,
                    fix="look at the node's console output / cloud-init log; check that the image "
                        "has the HEROES runtime and that HEROES can reach it over SSH")
            time.sleep(interval)

    def idle_nodes(self, idle_minutes: float, *, roles: Sequence[Role] = ("temporary", "compute"),
                   now: datetime | None = None, organisation: str | None = None) -> list[Node]:
        """Running nodes in ``roles`` not used for ``idle_minutes``; headnodes and nodes with an
        unexpired lease are never idle."""
        moment = now or datetime.now(UTC)
        limit = timedelta(minutes=idle_minutes)
        tags = {TAG_ORGANISATION: organisation} if organisation else {}
        idle = []
        for node in self.list_nodes(tags, states=("running",)):
            if node.role not in roles or node.role == "headnode" or node.leased_by(moment):
                continue
            idle_for = node.idle_for(moment)
            if idle_for is not None and idle_for >= limit:
                idle.append(node)
        return idle


@contextmanager
def deploy_temporary(provider: NodeProvider, spec: NodeSpec, count: int, *, organisation: str,
                     workflow: str, health_check: HealthCheck | None = None,
                     ready_timeout: float = 600.0, keep_on_success: bool = False,
                     idempotency_key: str | None = None) -> Iterator[list[Node]]:
    """Deploy ``count`` temporary nodes for ``workflow``; terminate them on any exception.

    The nodes are running (and healthy, if ``health_check`` is given) when the
    block starts. On leaving the block they are terminated, unless
    ``keep_on_success`` and the block ended normally. A failure to terminate is
    logged and added as a note to the original exception, never hides it.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not workflow:
        raise ValueError("temporary nodes need the workflow id they belong to")
    tags = heroes_tags(organisation, role="temporary", workflow=workflow)
    nodes: list[Node] = []
    try:
        nodes = provider.deploy(spec, count, tags, idempotency_key=idempotency_key)
        nodes = provider.wait_for_state([n.id for n in nodes], "running", timeout=ready_timeout)
        if health_check is not None:
            provider.wait_healthy(nodes, health_check, timeout=ready_timeout)
        yield nodes
    except BaseException as exc:
        _terminate_quietly(provider, nodes, {TAG_ORGANISATION: organisation, TAG_WORKFLOW: workflow,
                                             TAG_ROLE: "temporary"}, exc)
        raise
    else:
        if not keep_on_success:
            provider.terminate([n.id for n in nodes])


def _terminate_quietly(provider: NodeProvider, nodes: Sequence[Node], tags: Mapping[str, str],
                       cause: BaseException) -> None:
    """Terminate what was deployed (by id and by tag, in case ``deploy`` itself failed half way)."""
    try:
        ids = {n.id for n in nodes} | {n.id for n in provider.list_nodes(tags)}
        if ids:
            provider.terminate(sorted(ids))
            logger.warning("terminated temporary node(s) %s after: %s", ", ".join(sorted(ids)), cause)
    except Exception as cleanup:
        logger.error("could not terminate temporary nodes %s: %s", [n.id for n in nodes], cleanup)
        cause.add_note(f"HEROES could not terminate temporary nodes {[n.id for n in nodes]}: {cleanup}; "
                       f"terminate them by the tags {dict(tags)}")


def ssh_health_check(user: str, private_key: SecretStr, *, host_keys: Mapping[str, str] | None = None,
                     script: Sequence[str] = ("heroes-healthcheck",), port: int = 22,
                     use_public_ip: bool = True, connect_timeout: float = 10.0) -> HealthCheck:
    """A health check that runs ``script`` over SSH on the node and passes when it exits 0.

    ``host_keys`` maps node ids to their pinned host key line (as printed by
    ``ssh-keyscan``); a node without a known key cannot be checked (HEROES never
    accepts unknown host keys), so its check fails.
    """
    from heroes_core.transport import SSHConfig, SSHTransport

    def check(node: Node) -> bool:
        address = node.public_ip if use_public_ip and node.public_ip else node.private_ip
        key = (host_keys or {}).get(node.id)
        if not address or not key:
            return False
        transport = SSHTransport(SSHConfig(site=f"node:{node.id}", host=address, port=port, user=user,
                                           private_key=private_key, host_keys=(key,),
                                           connect_timeout=connect_timeout, reconnect_attempts=1))
        try:
            return transport.run(list(script), timeout=60).ok
        finally:
            transport.close()

    return check
