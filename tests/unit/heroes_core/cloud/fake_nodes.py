"""An in-memory node provider: the NodeProvider contract over a dict, for the lease rules' tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from heroes_core.cloud import TAG_LAST_USED, TAG_ORGANISATION, Node, NodeProvider, NodeSpec, NodeTimeoutError
from heroes_core.cloud.base import ALIVE_STATES, NodeState


class FakeNodes(NodeProvider):
    """Nodes in a dict; ``fail_start`` makes started and launched nodes never reach running (a timeout)."""

    def __init__(self) -> None:
        self.site = "fake:region"
        self.nodes: dict[str, Node] = {}
        self.fail_start = False
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def add(self, state: NodeState, tags: Mapping[str, str]) -> str:
        node_id = f"i-{len(self.nodes):04d}"
        self.nodes[node_id] = Node(id=node_id, state=state, instance_type="t3.micro", tags=dict(tags),
                                   launched_at=datetime(2026, 1, 1, tzinfo=UTC))
        return node_id

    def _set(self, node_id: str, **changes: object) -> None:
        self.nodes[node_id] = self.nodes[node_id].model_copy(update=changes)

    def deploy(self, spec: NodeSpec, count: int, tags: Mapping[str, str], *,
               idempotency_key: str | None = None) -> list[Node]:
        made = [self.nodes[self.add("pending" if self.fail_start else "running", tags)] for _ in range(count)]
        self.calls.append(("deploy", tuple(n.id for n in made)))
        return made

    def start(self, node_ids: Sequence[str]) -> None:
        self.calls.append(("start", tuple(node_ids)))
        for node_id in node_ids:
            self._set(node_id, state="pending" if self.fail_start else "running")

    def stop(self, node_ids: Sequence[str]) -> None:
        self.calls.append(("stop", tuple(node_ids)))
        for node_id in node_ids:
            self._set(node_id, state="stopped")

    def terminate(self, node_ids: Sequence[str]) -> None:
        self.calls.append(("terminate", tuple(node_ids)))
        for node_id in node_ids:
            self._set(node_id, state="terminated")

    def list_nodes(self, tags: Mapping[str, str], states: Sequence[NodeState] = ALIVE_STATES) -> list[Node]:
        return [n for n in self.nodes.values() if n.state in states and TAG_ORGANISATION in n.tags
                and all(n.tags.get(k) == v for k, v in tags.items())]

    def wait_for_state(self, node_ids: Sequence[str], state: Literal["running", "stopped", "terminated"],
                       *, timeout: float) -> list[Node]:
        nodes = [self.nodes[i] for i in node_ids]
        if any(n.state != state for n in nodes):
            raise NodeTimeoutError(f"node(s) did not become {state} within {timeout:.0f} s", site=self.site)
        return nodes

    def mark_used(self, node_ids: Sequence[str], at: datetime | None = None) -> None:
        self.set_tags(node_ids, {TAG_LAST_USED: (at or datetime.now(UTC)).isoformat()})

    def set_tags(self, node_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        for node_id in node_ids:
            self._set(node_id, tags={**self.nodes[node_id].tags, **tags})

    def remove_tags(self, node_ids: Sequence[str], keys: Sequence[str]) -> None:
        for node_id in node_ids:
            self._set(node_id, tags={k: v for k, v in self.nodes[node_id].tags.items() if k not in keys})

    def console_output(self, node_id: str) -> str:
        return ""
