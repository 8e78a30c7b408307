"""The per-cluster lock on cloud nodes: its limit's name, the limit made (and put right) before each use,
the slot taken strictly, and a wait too long turned into an error naming the cluster. Hermetic: the
Prefect client and ``concurrency()`` are stand-ins; tests/integration/test_cloud_workflow_moto.py runs
the lock against a real Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from heroes.tasks import cloud_locks
from heroes.tasks.cloud_locks import (
    LEASE_S,
    cluster_nodes_lock,
    ensure_single_slot_limit,
    lock_wait_s,
    nodes_limit_name,
)
from heroes_core.cloud import ClusterBusyError


def _http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://prefect/api/v2/concurrency_limits/x")
    return httpx.HTTPStatusError("", request=request, response=httpx.Response(status, request=request))


class FakeClient:
    """The global concurrency limit calls of Prefect's sync client, over a dict; ``made_meanwhile``: a limit
    another process creates between this one's read and its create."""

    def __init__(self, limits: dict[str, SimpleNamespace] | None = None,
                 made_meanwhile: SimpleNamespace | None = None) -> None:
        self.limits = dict(limits or {})
        self.made_meanwhile = made_meanwhile
        self.calls: list[str] = []

    def read_global_concurrency_limit_by_name(self, name: str) -> SimpleNamespace:
        self.calls.append("read")
        if name not in self.limits:
            raise ObjectNotFound(http_exc=_http_error(404))
        return self.limits[name]

    def create_global_concurrency_limit(self, limit: Any) -> None:
        self.calls.append("create")
        if self.made_meanwhile is not None:
            self.limits[limit.name] = self.made_meanwhile
            raise ObjectAlreadyExists(http_exc=_http_error(409))
        self.limits[limit.name] = SimpleNamespace(limit=limit.limit, active=limit.active,
                                                  slot_decay_per_second=limit.slot_decay_per_second)

    def update_global_concurrency_limit(self, name: str, update: Any) -> None:
        self.calls.append("update")
        for field, value in update.model_dump(exclude_unset=True).items():
            setattr(self.limits[name], field, value)

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def one_slot(limit: SimpleNamespace) -> bool:
    return limit.limit == 1 and limit.active and limit.slot_decay_per_second == 0


def test_each_cluster_has_its_own_limit_whose_name_prefect_accepts() -> None:
    assert nodes_limit_name("acme", "acme") == "heroes-cloud-nodes-acme.acme"
    assert nodes_limit_name("acme-labs", "gpu_2.x") == "heroes-cloud-nodes-acme-labs.gpu_2.x"
    # hyphens in both names cannot make two clusters share a limit ("heroes-cloud-nodes-org-a-b" twice)
    assert nodes_limit_name("org-a", "b") != nodes_limit_name("org", "a-b")
    for organisation, cluster in (("Acme", "c"), ("acme", "a/b"), ("acme", "a%2Fb"), ("acme", ""),
                                  ("acme", "c" * 65), ("a", "c"), ("acme", "a<b")):
        with pytest.raises(ValueError, match="name"):
            nodes_limit_name(organisation, cluster)


def test_a_missing_limit_is_made_with_one_active_slot() -> None:
    client = FakeClient()
    ensure_single_slot_limit(client, "heroes-cloud-nodes-acme.c1")  # type: ignore[arg-type]
    assert one_slot(client.limits["heroes-cloud-nodes-acme.c1"]) and client.calls == ["read", "create"]


def test_a_limit_made_by_another_process_at_the_same_moment_is_taken_and_put_right() -> None:
    theirs = SimpleNamespace(limit=5, active=True, slot_decay_per_second=0.0)
    client = FakeClient(made_meanwhile=theirs)
    ensure_single_slot_limit(client, "n")  # type: ignore[arg-type]
    assert client.calls == ["read", "create", "read", "update"] and one_slot(theirs)


@pytest.mark.parametrize("changed", [{"active": False}, {"limit": 3}, {"limit": 0}, {"slot_decay_per_second": 0.5}])
def test_a_limit_that_would_not_lock_is_put_right(changed: dict[str, Any]) -> None:
    limit = SimpleNamespace(**{"limit": 1, "active": True, "slot_decay_per_second": 0.0, **changed})
    client = FakeClient({"n": limit})
    ensure_single_slot_limit(client, "n")  # type: ignore[arg-type]
    assert one_slot(limit) and client.calls == ["read", "update"]


def test_a_right_limit_is_left_alone() -> None:
    client = FakeClient({"n": SimpleNamespace(limit=1, active=True, slot_decay_per_second=0.0)})
    ensure_single_slot_limit(client, "n")  # type: ignore[arg-type]
    assert client.calls == ["read"]


class FakeConcurrency:
    """``concurrency()``: records its arguments and the limits as they were when it was asked."""

    def __init__(self, client: FakeClient, *, times_out: bool = False) -> None:
        self.client = client
        self.times_out = times_out
        self.asked: list[tuple[tuple[Any, ...], dict[str, Any], bool]] = []
        self.held = False

    @contextmanager
    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[None]:
        self.asked.append((args, kwargs, one_slot(self.client.limits[args[0]])))
        if self.times_out:
            raise TimeoutError("Attempt to acquire concurrency slots timed out")
        self.held = True
        try:
            yield
        finally:
            self.held = False


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr(cloud_locks, "get_client", lambda sync_client: fake)
    return fake


def test_the_slot_is_taken_strictly_under_a_lease_once_the_limit_is_made(
        client: FakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    slot = FakeConcurrency(client)
    monkeypatch.setattr(cloud_locks, "concurrency", slot)
    with cluster_nodes_lock("acme", "c1", wait_s=90):
        assert slot.held
    assert not slot.held
    ((args, kwargs, limit_was_ready),) = slot.asked
    assert args == ("heroes-cloud-nodes-acme.c1",) and limit_was_ready
    assert kwargs == {"occupy": 1, "timeout_seconds": 90, "lease_duration": LEASE_S, "strict": True}


def test_waiting_too_long_is_an_error_naming_the_cluster_and_its_limit(
        client: FakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloud_locks, "concurrency", FakeConcurrency(client, times_out=True))
    with pytest.raises(ClusterBusyError) as caught, cluster_nodes_lock("acme", "c1", wait_s=5,
                                                                       site="aws:acme/c1"):
        pytest.fail("the body must not run without the lock")
    assert caught.value.site == "aws:acme/c1"
    assert "'c1'" in str(caught.value) and "heroes-cloud-nodes-acme.c1" in str(caught.value)
    assert caught.value.fix and "120 s" in caught.value.fix


def test_a_timeout_in_the_body_is_not_taken_for_a_busy_cluster(
        client: FakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloud_locks, "concurrency", FakeConcurrency(client))
    with pytest.raises(TimeoutError) as caught, cluster_nodes_lock("acme", "c1", wait_s=5):
        raise TimeoutError("nodes did not start")
    assert not isinstance(caught.value, ClusterBusyError)


def test_a_change_waits_for_one_slow_holder_and_one_more() -> None:
    assert lock_wait_s() == 2 * (900 + 60)
    assert lock_wait_s(60) == 2 * (600 + 60)  # a release's wait for nodes to stop is the longer
    assert lock_wait_s(3600) == 2 * (3600 + 60)
