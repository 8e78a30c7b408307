"""An organisation's cloud cluster as a placement option, against moto's EC2 and the test bed's Slurm.

The cluster is a centre block whose SSH settings are the test bed's ``local-slurm`` (so its jobs
really run on the test bed's Slurm, as on a cluster's headnode) with a cloud binding to compute
instances on a moto server, stopped and tagged for the cluster. Everything made here has a new
name (organisation, cluster, blocks) and the blocks, and the cluster's Prefect concurrency limit
(its lock), are deleted afterwards, so the module passes on an empty test bed and twice in a row.
See test_cloud_nodes_moto.py for what moto checks.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import moto  # noqa: F401  (fail at import when moto is missing)
import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from sqlalchemy import select

from heroes.blocks import ApplicationCatalog, CentralArchive, HeroesDatabase, HPCCentre
from heroes.blocks.aws_account import AWSAccount
from heroes.tasks import cloud_nodes
from heroes.tasks.cloud_locks import cluster_nodes_lock, nodes_limit_name
from heroes_core.catalog import Application
from heroes_core.cloud import (
    TAG_CLUSTER,
    AWSNodes,
    CloudBinding,
    acquire_nodes,
    heroes_tags,
    lease_tag,
    publish_cloud_price,
    release_nodes,
    terminate_idle_nodes,
)
from heroes_core.costs.cloud_prices import load_snapshot
from heroes_core.costs.schema import CostLine
from heroes_core.errors import SpecError
from heroes_core.jobs import JobContext
from heroes_core.workflows import WorkflowSpec
from tests.integration.moto_server import moto_server

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from moto_server(tmp_path_factory.mktemp("moto"), {"MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true"})


@pytest.fixture(scope="module")
def account(moto_endpoint: str, blocks: dict[str, str]) -> Iterator[str]:
    name = f"moto-{uuid.uuid4().hex[:8]}"
    AWSAccount(access_key_id="testing", secret_access_key="testing",  # type: ignore[arg-type]
               region=REGION, endpoint_url=moto_endpoint).save(name, overwrite=True)
    yield name
    AWSAccount.delete(name)


@pytest.fixture(scope="module")
def organisation(blocks: dict[str, str]) -> str:
    """A new organisation with a budget, a bucket, and the exchange rate its cloud prices need."""
    name = f"cl-{uuid.uuid4().hex[:8]}"
    database = HeroesDatabase.load("heroes-database")
    budgets = database.budgets()
    budgets.create(name, Decimal("100"), "EUR", hard=True)
    CentralArchive.load("heroes-archive").ensure_bucket(name)
    now = datetime.now(UTC)
    try:
        budgets.prices.convert(Decimal(1), "USD", "EUR", now)
    except SpecError:  # a fresh test bed has no USD rate; AWS prices are in USD
        budgets.prices.set_rate("USD", "EUR", Decimal("0.92"), valid_from=now - timedelta(days=1))
    return name


def nodes_of(account: str) -> AWSNodes:
    api = AWSAccount.load(account).nodes()  # type: ignore[union-attr]
    api.poll_interval = 1
    return api


def make_cluster(account: str, organisation: str, count: int) -> tuple[CloudBinding, list[str]]:
    """``count`` stopped t3.micro compute instances on moto tagged for a new cluster."""
    cluster = f"c{uuid.uuid4().hex[:8]}"
    api = nodes_of(account)
    ami = AWSAccount.load(account).client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]  # type: ignore[union-attr]
    from heroes_core.cloud import NodeSpec

    made = api.deploy(NodeSpec(instance_type="t3.micro", image_id=ami), count,
                      heroes_tags(organisation, role="compute", cluster=cluster,
                                  now=datetime.now(UTC) - timedelta(hours=2)))
    ids = [n.id for n in made]
    api.wait_for_state(ids, "running", timeout=30)
    api.stop(ids)
    api.wait_for_state(ids, "stopped", timeout=30)
    binding = CloudBinding(provider="aws", account=account, organisation=organisation, cluster=cluster,
                           region=REGION, instance_type="t3.micro", cores_per_node=2, max_nodes=count,
                           startup_s=5, start_timeout_s=60)
    return binding, ids


def states(account: str, cluster: str) -> dict[str, str]:
    return {n.id: n.state for n in nodes_of(account).list_nodes({TAG_CLUSTER: cluster},
                                                                states=("pending", "running", "stopping",
                                                                        "stopped", "terminated"))}


def register(binding: CloudBinding) -> Iterator[dict[str, Any]]:
    """A centre block: local-slurm's SSH settings plus ``binding``; and a catalogue block where the
    busybox image is on it too. Both are deleted afterwards."""
    name = f"cloud-{uuid.uuid4().hex[:8]}"
    local: Any = HPCCentre.load("local-slurm")
    HPCCentre(**{field: getattr(local, field) for field in type(local).model_fields if field != "cloud"},
              cloud=binding).save(name, overwrite=True)
    # as integrate-cloud-platform does: its jobs are charged the provider's price per node-hour
    publish_cloud_price(HeroesDatabase.load("heroes-database").budgets().prices, name,  # type: ignore[union-attr]
                        binding, local.partitions, load_snapshot())
    base: Any = ApplicationCatalog.load("heroes-catalog")
    apps = [Application.model_validate({**app.model_dump(), "images": {**app.images,
                                                                       name: app.images["local-slurm"]}})
            for app in base.applications]
    catalog = f"catalog-{name}"
    ApplicationCatalog(applications=apps).save(catalog, overwrite=True)
    yield {"name": name, "binding": binding, "catalog": catalog}
    HPCCentre.delete(name)
    ApplicationCatalog.delete(catalog)
    drop_nodes_limit(binding)


def drop_nodes_limit(binding: CloudBinding) -> None:
    """Delete the Prefect concurrency limit that the cluster's lease changes made (see heroes.tasks.cloud_locks)."""
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name(nodes_limit_name(binding.organisation, binding.cluster))


@pytest.fixture
def cloud_centre(account: str, organisation: str) -> Iterator[dict[str, Any]]:
    """A cloud centre whose moto cluster has one stopped node."""
    binding, ids = make_cluster(account, organisation, 1)
    for centre in register(binding):
        yield {**centre, "nodes": ids}


@pytest.fixture
def fresh_cloud_centre(account: str, organisation: str) -> Iterator[dict[str, Any]]:
    """A cloud centre as integrate-cloud-platform leaves it: no compute node yet, a launch template for
    them (the AWS module's ``launch_template_id`` output), at most two."""
    ec2 = AWSAccount.load(account).client("ec2")  # type: ignore[union-attr]
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    cluster = f"c{uuid.uuid4().hex[:8]}"
    template = ec2.create_launch_template(
        LaunchTemplateName=f"heroes-{cluster}-compute",
        LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    binding = CloudBinding(provider="aws", account=account, organisation=organisation, cluster=cluster,
                           region=REGION, instance_type="t3.micro", cores_per_node=2, max_nodes=2,
                           startup_s=5, start_timeout_s=60, launch_template=template)
    try:
        yield from register(binding)
    finally:
        nodes_of(account).terminate_by_tags({TAG_CLUSTER: cluster})
        ec2.delete_launch_template(LaunchTemplateId=template)


def one_job(name: str) -> WorkflowSpec:
    return WorkflowSpec.model_validate({
        "name": name, "strategy": "price",
        "jobs": [{"id": "hello", "application": "busybox", "command": ["sh", "-c", "echo hi > out.txt"],
                  "estimate_minutes": 0.1, "time_limit_minutes": 2}]})


def ran_on(archive: Any, organisation: str, user: str) -> set[str]:
    import json

    client = archive.s3_client()
    listing = client.list_objects_v2(Bucket=f"heroes-{organisation}", Prefix=f"_heroes/jobs/{user}/")
    return {json.loads(client.get_object(Bucket=f"heroes-{organisation}", Key=o["Key"])["Body"].read())["site"]
            for o in listing.get("Contents", []) if o["Key"].endswith("heroes-job.json")}


def test_a_workflow_placed_on_its_organisations_cloud_cluster_starts_its_node_and_stops_it_after(
        cloud_centre: dict[str, Any], account: str, organisation: str) -> None:
    from heroes.flows import run_workflow

    binding: CloudBinding = cloud_centre["binding"]
    (node,) = cloud_centre["nodes"]
    user = f"u{uuid.uuid4().hex[:8]}"
    before = datetime.now(UTC)
    state: Any = run_workflow(workflow=one_job(f"cloud{uuid.uuid4().hex[:6]}"), organisation=organisation,
                              user=user, centres=[cloud_centre["name"], "local-slurm-2"],
                              catalog=cloud_centre["catalog"], auto_accept=True, return_state=True)
    assert state.is_completed(), state.message
    assert ran_on(CentralArchive.load("heroes-archive"), organisation, user) == {cloud_centre["name"]}
    (after,) = nodes_of(account).describe([node])
    assert after.state == "stopped"  # started for the job, stopped when the workflow needed it no more
    assert after.last_used is not None and after.last_used > before  # it was leased and used
    assert not after.leases  # the lease is gone
    assert set(states(account, binding.cluster).values()) == {"stopped"}
    # as the provider bills it, the node's start-up is charged to the workflow with its job, per node-hour
    run_id = str(state.state_details.flow_run_id)
    job = JobContext.for_run(run_id, organisation=organisation, user=user, site=cloud_centre["name"], step="hello")
    with HeroesDatabase.load("heroes-database").database().transaction() as session:  # type: ignore[union-attr]
        startups = [(line.workflow_id, line.job_key, line.site, line.unit, line.quantity > 0)
                    for line in session.scalars(select(CostLine).where(
                        CostLine.organisation == organisation, CostLine.charge_ref.like("startup:%"),
                        CostLine.incurred_at >= before))]
    assert startups == [(run_id, job.key, cloud_centre["name"], "node-hour", True)]


def test_a_cluster_without_nodes_yet_launches_one_from_its_template_and_stops_it_after(
        fresh_cloud_centre: dict[str, Any], account: str, organisation: str) -> None:
    from heroes.flows import run_workflow

    binding: CloudBinding = fresh_cloud_centre["binding"]
    assert states(account, binding.cluster) == {}
    user = f"u{uuid.uuid4().hex[:8]}"
    state: Any = run_workflow(workflow=one_job(f"cloud{uuid.uuid4().hex[:6]}"), organisation=organisation,
                              user=user, centres=[fresh_cloud_centre["name"], "local-slurm-2"],
                              catalog=fresh_cloud_centre["catalog"], auto_accept=True, return_state=True)
    assert state.is_completed(), state.message
    assert ran_on(CentralArchive.load("heroes-archive"), organisation, user) == {fresh_cloud_centre["name"]}
    (launched,) = nodes_of(account).list_nodes({TAG_CLUSTER: binding.cluster}, states=("stopped",))
    assert launched.role == "compute" and launched.tags["heroes:organisation"] == organisation
    assert not launched.leases and len(states(account, binding.cluster)) == 1  # launched once, stopped after


def test_idle_clean_up_does_not_stop_a_node_while_a_workflow_leases_it(
        cloud_centre: dict[str, Any], account: str) -> None:
    from heroes.flows.architecture.cloud import terminate_idle_nodes as idle_flow

    binding: CloudBinding = cloud_centre["binding"]
    api = nodes_of(account)
    workflow = str(uuid.uuid4())
    lease = acquire_nodes(api, binding, workflow, 1, hold_s=3600)
    assert set(lease.started) == set(cloud_centre["nodes"])
    api.mark_used(list(lease.nodes), at=datetime.now(UTC) - timedelta(hours=3))  # long unused
    assert terminate_idle_nodes(api, 30, organisation=binding.organisation).stopped == ()
    assert idle_flow(account, idle_minutes=30, organisation=binding.organisation)["stopped"] == []
    (node,) = api.describe(list(lease.nodes))
    assert node.state == "running" and lease_tag(workflow) in node.tags

    assert release_nodes(api, binding, workflow).stopped == lease.nodes
    assert set(states(account, binding.cluster).values()) == {"stopped"}


def test_a_cloud_cluster_whose_nodes_cannot_start_has_its_job_re_placed_and_leaves_none_running(
        cloud_centre: dict[str, Any], account: str, organisation: str) -> None:
    from heroes.flows import run_workflow

    binding: CloudBinding = cloud_centre["binding"]
    api = nodes_of(account)
    api.terminate(cloud_centre["nodes"])  # the cluster's instances were removed behind HEROES' back
    api.wait_for_state(cloud_centre["nodes"], "terminated", timeout=30)
    user = f"u{uuid.uuid4().hex[:8]}"
    state: Any = run_workflow(workflow=one_job(f"gone{uuid.uuid4().hex[:6]}"), organisation=organisation,
                              user=user, centres=[cloud_centre["name"], "local-slurm-2"],
                              catalog=cloud_centre["catalog"], auto_accept=True, return_state=True)
    assert state.is_completed(), state.message
    assert ran_on(CentralArchive.load("heroes-archive"), organisation, user) == {"local-slurm-2"}
    assert "running" not in states(account, binding.cluster).values()

    alone: Any = run_workflow(workflow=one_job(f"alone{uuid.uuid4().hex[:6]}"), organisation=organisation,
                              user=user, centres=[cloud_centre["name"]], catalog=cloud_centre["catalog"],
                              auto_accept=True, return_state=True)
    assert alone.is_failed()
    with pytest.raises(SpecError, match=rf"{cloud_centre['name']}.*compute node") as caught:
        alone.result()
    assert caught.value.site == cloud_centre["name"]
    assert "running" not in states(account, binding.cluster).values()


def test_another_organisations_workflow_naming_the_cloud_cluster_is_refused(
        cloud_centre: dict[str, Any]) -> None:
    from heroes.flows import run_workflow

    state: Any = run_workflow(workflow=one_job(f"foreign{uuid.uuid4().hex[:6]}"), organisation="itest",
                              user="intruder", centres=[cloud_centre["name"], "local-slurm-2"],
                              catalog=cloud_centre["catalog"], auto_accept=True, return_state=True)
    assert state.is_failed()
    with pytest.raises(SpecError, match="another organisation"):
        state.result()
    assert set(states_of_binding(cloud_centre).values()) == {"stopped"}


def states_of_binding(cloud_centre: dict[str, Any]) -> dict[str, str]:
    binding: CloudBinding = cloud_centre["binding"]
    return states(binding.account, binding.cluster)


# --- one change at a time to a cluster's nodes (heroes.tasks.cloud_locks) ---------------------------

def each_reads_before_either_acts(monkeypatch: pytest.MonkeyPatch, parties: int = 2) -> None:
    """Widen the race the cluster's lock closes, so that the tests fail for certain without it.

    The tasks' acquire and release read the cluster's nodes, then act; here each waits, after its
    read, until the others have read too (at most 5 s: under the lock the others cannot read yet)."""
    barrier = threading.Barrier(parties, timeout=5)

    def racing(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(provider: Any, *args: Any, **kwargs: Any) -> Any:
            read = provider.list_nodes
            first = [True]

            def list_nodes(*a: Any, **k: Any) -> Any:
                found = read(*a, **k)
                if first[0]:
                    first[0] = False
                    with contextlib.suppress(threading.BrokenBarrierError):  # the others wait for the lock
                        barrier.wait()
                return found
            provider.list_nodes = list_nodes
            return real(provider, *args, **kwargs)
        return call

    monkeypatch.setattr(cloud_nodes, "acquire_nodes", racing(cloud_nodes.acquire_nodes))
    monkeypatch.setattr(cloud_nodes, "release_nodes", racing(cloud_nodes.release_nodes))


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads at once; their results or the exceptions they raised, in order."""
    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(outcome, calls))


def alive(account: str, cluster: str) -> dict[str, str]:
    return {node: state for node, state in states(account, cluster).items() if state != "terminated"}


def test_two_workflows_leasing_an_empty_cluster_at_once_launch_no_more_nodes_than_its_maximum(
        fresh_cloud_centre: dict[str, Any], account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    binding: CloudBinding = fresh_cloud_centre["binding"]
    centre = fresh_cloud_centre["name"]
    assert states(account, binding.cluster) == {} and binding.max_nodes == 2
    each_reads_before_either_acts(monkeypatch)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())

    leases = together(lambda: cloud_nodes.acquire_cloud_nodes(centre, first, 2, 600),
                      lambda: cloud_nodes.acquire_cloud_nodes(centre, second, 2, 600))

    # one after the other: the first launched the cluster's two nodes, the second shares them running
    assert len(alive(account, binding.cluster)) == binding.max_nodes, leases
    assert all(not isinstance(lease, Exception) for lease in leases), leases
    assert set(leases[0].nodes) == set(leases[1].nodes) == set(alive(account, binding.cluster))
    assert sorted(len(lease.started) for lease in leases) == [0, 2]  # launched once, by one of them
    for node in nodes_of(account).describe(list(leases[0].nodes)):
        assert node.state == "running" and {lease_tag(first), lease_tag(second)} <= set(node.tags)

    assert cloud_nodes.release_cloud_nodes(centre, first) == []  # the other still holds them
    assert sorted(cloud_nodes.release_cloud_nodes(centre, second)) == sorted(leases[0].nodes)
    assert set(alive(account, binding.cluster).values()) == {"stopped"}


def test_a_release_and_another_workflows_lease_at_once_leave_the_node_running_for_it(
        cloud_centre: dict[str, Any], account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    centre = cloud_centre["name"]
    (node,) = cloud_centre["nodes"]
    leaving, coming = str(uuid.uuid4()), str(uuid.uuid4())
    assert cloud_nodes.acquire_cloud_nodes(centre, leaving, 1, 600).nodes == (node,)
    each_reads_before_either_acts(monkeypatch)

    stopped, lease = together(lambda: cloud_nodes.release_cloud_nodes(centre, leaving),
                              lambda: cloud_nodes.acquire_cloud_nodes(centre, coming, 1, 600))

    assert not isinstance(lease, Exception), lease
    assert lease.nodes == (node,)
    (after,) = nodes_of(account).describe([node])
    # whichever went first, the node runs under the new lease alone (stopped and started again, or kept)
    assert after.state == "running", (stopped, after)
    assert lease_tag(coming) in after.tags and lease_tag(leaving) not in after.tags
    assert cloud_nodes.release_cloud_nodes(centre, coming) == [node]


def test_idle_clean_up_looks_again_under_the_clusters_lock_and_spares_a_node_leased_meanwhile(
        cloud_centre: dict[str, Any], account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from heroes.flows.architecture import cloud as cloud_flows

    binding: CloudBinding = cloud_centre["binding"]
    (node,) = cloud_centre["nodes"]
    api = nodes_of(account)
    api.start([node])
    api.wait_for_state([node], "running", timeout=30)
    api.mark_used([node], at=datetime.now(UTC) - timedelta(hours=3))  # running, unleased, long unused: idle
    surveyed = threading.Event()

    def watched(account_name: str, provider: str = "aws") -> Any:
        nodes = nodes_of(account_name)
        idle_nodes = nodes.idle_nodes

        def idle(*args: Any, **kwargs: Any) -> Any:
            found = idle_nodes(*args, **kwargs)
            surveyed.set()
            return found
        nodes.idle_nodes = idle  # type: ignore[method-assign]
        return nodes
    monkeypatch.setattr(cloud_flows, "node_provider", watched)

    workflow = str(uuid.uuid4())
    with ThreadPoolExecutor(1) as pool:
        with cluster_nodes_lock(binding.organisation, binding.cluster, wait_s=30):  # an acquire under way
            clean_up = pool.submit(cloud_flows.terminate_idle_nodes, account, idle_minutes=30,
                                   organisation=binding.organisation)
            assert surveyed.wait(60), "the idle clean-up did not look at the nodes"
            lease = acquire_nodes(api, binding, workflow, 1, hold_s=3600)  # what the lock holder does
        report = clean_up.result(timeout=300)

    assert lease.nodes == (node,) and report["stopped"] == [] and report["busy"] == []
    (after,) = api.describe([node])
    assert after.state == "running" and lease_tag(workflow) in after.tags
    assert release_nodes(api, binding, workflow).stopped == (node,)


def test_the_failure_hook_releases_under_the_clusters_lock_outside_any_run(
        cloud_centre: dict[str, Any], account: str, organisation: str) -> None:
    from prefect import flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.states import Crashed

    centre = cloud_centre["name"]
    (node,) = cloud_centre["nodes"]
    run = FlowRun(id=uuid.uuid4(), flow_id=uuid.uuid4(), parameters={"organisation": organisation})
    assert cloud_nodes.acquire_cloud_nodes(centre, str(run.id), 1, 600).nodes == (node,)
    assert FlowRunContext.get() is None and TaskRunContext.get() is None  # as a runner runs the hook

    cloud_nodes.release_cloud_nodes_hook(flow(lambda: None), run, Crashed())

    (after,) = nodes_of(account).describe([node])
    assert after.state == "stopped" and not after.leases
