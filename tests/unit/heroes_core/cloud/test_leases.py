"""A workflow's lease on a cloud cluster's nodes: what is started, what is stopped, and that idle
clean-up never stops a leased node."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from heroes_core.cloud import (
    CloudBinding,
    ClusterBusyError,
    NodeStartError,
    acquire_nodes,
    heroes_tags,
    holds_lease,
    lease_tag,
    release_nodes,
    running_nodes,
    stop_cluster_nodes,
    terminate_idle_nodes,
)
from heroes_core.sites import SiteConfig
from tests.unit.heroes_core.cloud.fake_nodes import FakeNodes

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BINDING = CloudBinding(provider="aws", account="aws-acme", organisation="acme", cluster="acme",
                       region="eu-west-1", instance_type="t3.micro", cores_per_node=2, max_nodes=4)


def cluster(nodes: FakeNodes, *states: str) -> list[str]:
    return [nodes.add(state, heroes_tags("acme", role="compute", cluster="acme",  # type: ignore[arg-type]
                                         now=NOW - timedelta(hours=3)))
            for state in states]


def test_the_binding_is_a_site_setting_and_refuses_what_cannot_be_a_cluster() -> None:
    site = SiteConfig(name="acme-aws-cloud", host="h", user="u", work_root="/w", cloud=BINDING)
    assert site.cloud is not None and site.cloud.startup_s == 180.0 and site.cloud.site == "aws:acme/acme"
    assert SiteConfig.model_validate_json(site.model_dump_json()).cloud == BINDING
    for bad in ({"organisation": "ACME"}, {"provider": "gcp"}, {"cores_per_node": 0}, {"startup_s": -1},
                {"cluster": "a;b"}, {"colour": "blue"}, {"launch_template": "lt-1; rm -rf /"},
                {"launch_template": "../other-org"}, {"launch_template": ""}):
        with pytest.raises(ValidationError):
            CloudBinding.model_validate({**BINDING.model_dump(), **bad})


def test_acquire_starts_stopped_nodes_under_the_workflows_lease_and_release_stops_them() -> None:
    nodes = FakeNodes()
    ids = cluster(nodes, "stopped", "stopped", "stopped")
    lease = acquire_nodes(nodes, BINDING, "wf-1", 2, hold_s=3600, now=NOW)
    assert len(lease.nodes) == 2 and lease.started == lease.nodes and lease.until == NOW + timedelta(hours=1)
    assert running_nodes(nodes, BINDING) == 2
    for node_id in lease.nodes:
        assert nodes.nodes[node_id].tags[lease_tag("wf-1")] == lease.until.isoformat()
    assert nodes.nodes[(set(ids) - set(lease.nodes)).pop()].state == "stopped"

    done = release_nodes(nodes, BINDING, "wf-1", now=NOW)
    assert sorted(done.stopped) == sorted(lease.nodes) == sorted(done.released)
    assert running_nodes(nodes, BINDING) == 0
    assert not any(lease_tag("wf-1") in n.tags for n in nodes.nodes.values())
    assert release_nodes(nodes, BINDING, "wf-1", now=NOW).released == ()  # idempotent


def test_running_nodes_are_shared_and_a_node_another_workflow_holds_keeps_running() -> None:
    nodes = FakeNodes()
    cluster(nodes, "running", "stopped")
    first = acquire_nodes(nodes, BINDING, "wf-1", 1, hold_s=3600, now=NOW)
    assert first.started == ()  # a running node needs no start
    second = acquire_nodes(nodes, BINDING, "wf-2", 1, hold_s=3600, now=NOW)
    assert second.nodes == first.nodes and second.started == ()
    assert release_nodes(nodes, BINDING, "wf-1", now=NOW).stopped == ()  # wf-2 still holds it
    assert release_nodes(nodes, BINDING, "wf-2", now=NOW).stopped == first.nodes


def test_a_lease_left_by_a_dead_workflow_expires_and_is_dropped() -> None:
    nodes = FakeNodes()
    cluster(nodes, "running")
    acquire_nodes(nodes, BINDING, "dead", 1, hold_s=60, now=NOW - timedelta(hours=1))
    lease = acquire_nodes(nodes, BINDING, "wf-1", 1, hold_s=3600, now=NOW)
    done = release_nodes(nodes, BINDING, "wf-1", now=NOW)
    assert done.stopped == lease.nodes
    assert not any(k.startswith("heroes:lease-") for k in nodes.nodes[lease.nodes[0]].tags)


def test_idle_clean_up_never_stops_a_leased_node_whatever_its_last_use() -> None:
    nodes = FakeNodes()
    both = cluster(nodes, "running", "running")
    (leased,) = acquire_nodes(nodes, BINDING, "long-job", 1, hold_s=24 * 3600, now=NOW - timedelta(hours=2)).nodes
    (idle,) = set(both) - {leased}
    nodes.mark_used([leased, idle], at=NOW - timedelta(hours=2))  # both unused for two hours
    assert nodes.nodes[leased].leased_by(NOW) == ["long-job"]

    report = terminate_idle_nodes(nodes, 30, now=NOW, organisation="acme")
    assert report.stopped == (idle,) and nodes.nodes[leased].state == "running"

    expired = terminate_idle_nodes(nodes, 30, now=NOW + timedelta(days=2), organisation="acme")
    assert expired.stopped == (leased,)  # an expired lease protects nothing


def test_idle_clean_up_looks_again_under_each_clusters_lock_and_spares_a_node_leased_meanwhile() -> None:
    nodes = FakeNodes()
    (node,) = cluster(nodes, "running")  # unused for three hours: idle
    other = nodes.add("running", heroes_tags("acme", role="compute", cluster="gpu", now=NOW - timedelta(hours=3)))
    locked: list[tuple[str, str]] = []

    @contextmanager
    def lock(organisation: str, name: str) -> Iterator[None]:
        locked.append((organisation, name))
        if name == "acme":  # the lock's holder before us was a workflow leasing the node
            acquire_nodes(nodes, BINDING, "wf-1", 1, hold_s=3600, now=NOW)
        yield

    report = terminate_idle_nodes(nodes, 30, now=NOW, organisation="acme", cluster_lock=lock)
    assert locked == [("acme", "acme"), ("acme", "gpu")]
    assert report.stopped == (other,) and report.busy == ()
    assert nodes.nodes[node].state == "running" and nodes.nodes[other].state == "stopped"


def test_idle_clean_up_leaves_a_busy_cluster_to_its_next_run() -> None:
    nodes = FakeNodes()
    (node,) = cluster(nodes, "running")
    temporary = nodes.add("running", heroes_tags("acme", role="temporary", workflow="wf-9",
                                                 now=NOW - timedelta(hours=3)))

    @contextmanager
    def busy(organisation: str, name: str) -> Iterator[None]:
        raise ClusterBusyError(f"{organisation}/{name} is busy")
        yield

    report = terminate_idle_nodes(nodes, 30, now=NOW, organisation="acme", cluster_lock=busy)
    assert report.busy == ("acme/acme",) and report.stopped == () and report.terminated == (temporary,)
    assert nodes.nodes[node].state == "running"


def test_a_workflow_holds_a_lease_until_it_releases_it() -> None:
    nodes = FakeNodes()
    cluster(nodes, "stopped")
    assert not holds_lease(nodes, BINDING, "wf-1")
    acquire_nodes(nodes, BINDING, "wf-1", 1, hold_s=60, now=NOW - timedelta(hours=1))
    assert holds_lease(nodes, BINDING, "wf-1") and not holds_lease(nodes, BINDING, "wf-2")  # expired, still its
    release_nodes(nodes, BINDING, "wf-1", now=NOW)
    assert not holds_lease(nodes, BINDING, "wf-1")


def test_stopping_cluster_nodes_skips_the_leased_ones() -> None:
    nodes = FakeNodes()
    cluster(nodes, "running", "running")
    (leased,) = acquire_nodes(nodes, BINDING, "wf-1", 1, hold_s=3600).nodes  # leased from now on
    assert stop_cluster_nodes(nodes, "acme", "acme", 2) == [n for n in nodes.nodes if n != leased]
    assert nodes.nodes[leased].state == "running"


def test_nodes_that_do_not_start_are_stopped_again_and_the_lease_dropped() -> None:
    nodes = FakeNodes()
    _, *stopped = cluster(nodes, "running", "stopped", "stopped")
    nodes.fail_start = True
    with pytest.raises(NodeStartError, match="did not start") as caught:
        acquire_nodes(nodes, BINDING, "wf-1", 3, hold_s=3600, now=NOW)
    assert caught.value.site == "aws:acme/acme" and "within" in str(caught.value)
    assert ("stop", tuple(stopped)) in nodes.calls
    assert [n.state for n in nodes.nodes.values()] == ["running", "stopped", "stopped"]
    assert not any(lease_tag("wf-1") in n.tags for n in nodes.nodes.values())


def test_a_cluster_with_too_few_nodes_is_refused_before_anything_starts() -> None:
    nodes = FakeNodes()
    cluster(nodes, "stopped", "terminated")
    with pytest.raises(NodeStartError, match="2 needed"):
        acquire_nodes(nodes, BINDING, "wf-1", 2, hold_s=3600, now=NOW)
    assert nodes.calls == []


TEMPLATED = BINDING.model_copy(update={"launch_template": "lt-0abc", "max_nodes": 3})


def test_a_cluster_short_of_nodes_launches_them_from_its_template_already_leased() -> None:
    nodes = FakeNodes()
    (stopped,) = cluster(nodes, "stopped")  # a cluster fresh from its module has none at all
    lease = acquire_nodes(nodes, TEMPLATED, "wf-1", 3, hold_s=3600, now=NOW)
    launched = [n for n in lease.nodes if n != stopped]
    assert len(launched) == 2 and set(lease.started) == set(lease.nodes) == {stopped, *launched}
    assert ("deploy", tuple(launched)) in nodes.calls
    for node_id in launched:  # under the lease from their first instant: idle clean-up never sees them free
        node = nodes.nodes[node_id]
        assert node.tags[lease_tag("wf-1")] == lease.until.isoformat() and node.role == "compute"
        assert node.tags["heroes:cluster"] == "acme" and node.tags["heroes:organisation"] == "acme"
    assert sorted(release_nodes(nodes, TEMPLATED, "wf-1", now=NOW).stopped) == sorted(lease.nodes)
    again = acquire_nodes(nodes, TEMPLATED, "wf-2", 3, hold_s=3600, now=NOW)  # the launched ones are reused
    assert set(again.nodes) == set(lease.nodes) and nodes.calls.count(("deploy", tuple(launched))) == 1


def test_a_template_launches_no_more_than_the_clusters_maximum() -> None:
    nodes = FakeNodes()
    cluster(nodes, "running")
    with pytest.raises(NodeStartError, match=r"may have 3 \(max_compute_nodes\): 4 needed"):
        acquire_nodes(nodes, TEMPLATED, "wf-1", 4, hold_s=3600, now=NOW)
    with pytest.raises(NodeStartError, match="no compute node template to launch more from: 2 needed"):
        acquire_nodes(nodes, BINDING, "wf-1", 2, hold_s=3600, now=NOW)
    assert nodes.calls == []


def test_launched_nodes_that_do_not_start_are_terminated_and_started_ones_stopped() -> None:
    nodes = FakeNodes()
    (stopped,) = cluster(nodes, "stopped")
    nodes.fail_start = True
    with pytest.raises(NodeStartError, match="did not start"):
        acquire_nodes(nodes, TEMPLATED, "wf-1", 2, hold_s=3600, now=NOW)
    (launched,) = [n for n in nodes.nodes if n != stopped]
    assert ("stop", (stopped,)) in nodes.calls and ("terminate", (launched,)) in nodes.calls
    assert nodes.nodes[launched].state == "terminated" and nodes.nodes[stopped].state == "stopped"
    assert not any(lease_tag("wf-1") in n.tags for n in nodes.nodes.values() if n.state != "terminated")
