"""Architecture workflows of the deployment module: cloud clusters and cloud nodes.

``integrate_cloud_platform`` creates (or converges) an organisation's persistent
private cloud cluster with Terraform: plan, show the plan, pause for an admin's
approval, apply the saved plan, register the headnode as an ``HPCCentre`` block.
The Terraform state lives in the organisation's archive bucket
(``_heroes/terraform/terraform.tfstate``) and is the record of what exists: if an apply
stops half way, the created resources are in the state and running the flow
again creates only what is missing.

HEROES never holds the nodes' SSH host private keys: each node generates its own
on first boot and prints the public key on its serial console; the flow reads it
there through the provider's API (EC2 GetConsoleOutput, OCI console history) and
pins it in the ``HPCCentre`` block, or fails, never trusting a key on first use
(:mod:`heroes_core.cloud.host_keys`). The admin inputs that reach the nodes'
cloud-init are validated before anything is created
(:mod:`heroes_core.cloud.cluster_inputs`).

The node flows start/stop a cluster's compute nodes, deploy and undeploy a
user's temporary nodes, and terminate idle nodes (scheduled every 15 minutes).
Their changes to a cluster's compute nodes hold the cluster's lock, as workflows'
leases do (:mod:`heroes.tasks.cloud_locks`): an idle node a workflow is leasing at
that moment is not stopped under it.
A temporary node never outlives a failed or cancelled workflow: deployment runs
inside :func:`heroes_core.cloud.deploy_temporary` (terminates on any exception)
and the flows' failure and cancellation hooks terminate every node tagged with
the workflow.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

from prefect import Flow, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.blocks.system import Secret
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext
from prefect.flow_runs import pause_flow_run
from prefect.flows import FlowStateHook
from prefect.input import RunInput
from pydantic import Field, JsonValue
from pydantic import Secret as SecretValue

from heroes.blocks import CentralArchive, HPCCentre
from heroes.blocks.aws_account import AWSAccount
from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE
from heroes.blocks.oci_account import OCIAccount
from heroes.tasks.cloud_locks import IDLE_WAIT_S, cluster_nodes_lock, lock_wait_s, nodes_limit_name
from heroes.tasks.resolve import load_block, load_database
from heroes_core.cloud import (
    CloudBinding,
    ClusterLock,
    HealthCheck,
    Node,
    NodeProvider,
    NodeSpec,
    deploy_temporary,
    temporary_tags,
)
from heroes_core.cloud import start_cluster_nodes as _start_cluster_nodes
from heroes_core.cloud import stop_cluster_nodes as _stop_cluster_nodes
from heroes_core.cloud import terminate_idle_nodes as _terminate_idle_nodes
from heroes_core.cloud.binding import cluster_binding, publish_cloud_price
from heroes_core.cloud.cluster_inputs import validate_cluster_variables
from heroes_core.cloud.headnode import ClusterOutputs, headnode_host_key
from heroes_core.cloud.service_keys import ServiceKeys
from heroes_core.cloud.terraform import BackendConfig, TerraformRun, plan_markdown
from heroes_core.cloud.terraform import module_dir as terraform_module_dir
from heroes_core.costs.cloud_prices import PriceCache
from heroes_core.errors import HeroesError

Provider = Literal["aws", "oci"]


class ClusterApproval(RunInput):
    """An admin's answer to a private cloud cluster plan."""

    approve: bool = Field(description="True to apply the plan shown in the artifact, False to stop.")
    comment: str = Field(default="", description="Why (kept in the flow run's log).")


class PlanRejectedError(HeroesError):
    """An admin did not approve the Terraform plan."""


# --- accounts and providers ---------------------------------------------------------------

def load_account(account: str, provider: Provider = "aws") -> AWSAccount | OCIAccount:
    if provider == "aws":
        return load_block(AWSAccount, account)
    return load_block(OCIAccount, account)


def node_provider(account: str, provider: Provider = "aws") -> NodeProvider:
    return _nodes_of(load_account(account, provider))


def _nodes_of(block: AWSAccount | OCIAccount) -> NodeProvider:
    if isinstance(block, AWSAccount):
        return block.nodes()
    from heroes_core.cloud.oci import OCINodes

    return OCINodes.from_config(block.config(), compartment_id=block.compartment_id())


def _workflow_id(workflow: str | None) -> str:
    if workflow:
        return workflow
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise ValueError("outside a flow run, pass the workflow id the nodes belong to")
    return str(context.flow_run.id)


def terminate_workflow_nodes_hook(account: str, organisation: str, provider: Provider = "aws",
                                  workflow: str | None = None) -> FlowStateHook[..., Any]:
    """A flow ``on_failure`` / ``on_cancellation`` hook terminating the workflow's temporary nodes.

    Use it on any flow that deploys temporary nodes::

        hook = terminate_workflow_nodes_hook("aws-prod", "acme")
        @flow(on_failure=[hook], on_cancellation=[hook])
        def my_workflow(): ...

    Without ``workflow`` the nodes tagged with the failed flow run's id are terminated.
    """
    def hook(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
        owner = workflow or str(flow_run.id)
        ids = node_provider(account, provider).terminate_by_tags(temporary_tags(organisation, owner))
        if ids:
            get_run_logger().warning("workflow %s ended %s: terminated temporary node(s) %s",
                                     owner, state.type.value, ", ".join(ids))
    return hook


def _terminate_own_nodes(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Hook of the node flows: their parameters name the account and the workflow."""
    params = flow_run.parameters
    workflow = params.get("workflow") or str(flow_run.id)
    terminate_workflow_nodes_hook(params["account"], params["organisation"],
                                  params.get("provider", "aws"), workflow)(flow, flow_run, state)


@contextmanager
def temporary_nodes(account: str, organisation: str, spec: NodeSpec, count: int, *,
                    provider: Provider = "aws", workflow: str | None = None,
                    health_check: HealthCheck | None = None,
                    ready_timeout: float = 600.0) -> Iterator[list[Node]]:
    """Temporary nodes for the body of a ``with`` inside a flow; terminated when it ends, however."""
    with deploy_temporary(node_provider(account, provider), spec, count, organisation=organisation,
                          workflow=_workflow_id(workflow), health_check=health_check,
                          ready_timeout=ready_timeout) as nodes:
        yield nodes


def _node_lock(provider: Provider, wait_s: float) -> ClusterLock:
    """The lock on a cluster's compute nodes (:mod:`heroes.tasks.cloud_locks`), waiting ``wait_s``.

    A cluster whose tags are no valid organisation and cluster name needs none: no cloud binding
    can name it, so no workflow leases its nodes."""
    def lock(organisation: str, cluster: str) -> AbstractContextManager[object]:
        try:
            nodes_limit_name(organisation, cluster)
        except ValueError:
            return nullcontext()
        return cluster_nodes_lock(organisation, cluster, wait_s=wait_s,
                                  site=f"{provider}:{organisation}/{cluster}")
    return lock


def _node_rows(nodes: list[Node]) -> list[dict[str, str]]:
    return [{"node": n.id, "state": n.state, "type": n.instance_type, "role": n.role,
             "address": n.private_ip or ""} for n in nodes]


# --- node flows -----------------------------------------------------------------------------

@flow(name="deploy-temporary-nodes", on_failure=[_terminate_own_nodes],
      on_cancellation=[_terminate_own_nodes])
def deploy_temporary_nodes(organisation: str, user: str, account: str, instance_type: str, count: int,
                           image_id: str, subnet_id: str | None = None,
                           security_group_ids: list[str] | None = None, provider: Provider = "aws",
                           workflow: str | None = None, ready_timeout: float = 600.0) -> list[str]:
    """Deploy ``count`` temporary nodes for a user's workflow; return their ids.

    ``workflow`` is the id of the workflow the nodes serve (default: this flow
    run); undeploy them with ``undeploy_temporary_nodes`` or let the workflow's
    failure hook or the idle clean-up terminate them.
    """
    workflow_id = _workflow_id(workflow)
    spec = NodeSpec(instance_type=instance_type, image_id=image_id, subnet_id=subnet_id,
                    security_group_ids=tuple(security_group_ids or ()))
    nodes_api = node_provider(account, provider)
    with deploy_temporary(nodes_api, spec, count, organisation=organisation, workflow=workflow_id,
                          ready_timeout=ready_timeout, keep_on_success=True,
                          idempotency_key=f"{workflow_id}-{user}-{count}") as nodes:
        create_table_artifact(key=f"temporary-nodes-{workflow_id[:8]}", table=_node_rows(nodes),
                              description=f"Temporary nodes of {user} ({organisation}) for {workflow_id}")
    get_run_logger().info("deployed %s for %s/%s", ", ".join(n.id for n in nodes), organisation, user)
    return [n.id for n in nodes]


@flow(name="undeploy-temporary-nodes")
def undeploy_temporary_nodes(organisation: str, account: str, workflow: str | None = None,
                             node_ids: list[str] | None = None, provider: Provider = "aws") -> list[str]:
    """Terminate a workflow's temporary nodes (by tag), or the listed ones; return their ids."""
    nodes_api = node_provider(account, provider)
    if node_ids:
        owned = [n.id for n in nodes_api.list_nodes(temporary_tags(organisation)) if n.id in set(node_ids)]
        nodes_api.terminate(owned)
        return owned
    if not workflow:
        raise ValueError("name the workflow whose nodes to undeploy, or the node ids")
    return nodes_api.terminate_by_tags(temporary_tags(organisation, workflow))


@flow(name="start-cluster-nodes")
def start_cluster_nodes(organisation: str, account: str, count: int, cluster: str | None = None,
                        provider: Provider = "aws", launch_template_id: str | None = None,
                        instance_type: str | None = None, timeout: float = 600.0) -> list[str]:
    """Start ``count`` stopped compute nodes of the organisation's cluster (launch more from its template)."""
    template = None
    if launch_template_id:
        template = NodeSpec(instance_type=instance_type or "", image_id="",
                            launch_template_id=launch_template_id)
    name = cluster or organisation
    api = node_provider(account, provider)
    with _node_lock(provider, lock_wait_s())(organisation, name):
        nodes = _start_cluster_nodes(api, organisation, name, count, template=template, timeout=timeout)
    if len(nodes) < count:
        get_run_logger().warning("only %d of %d compute nodes could be started (no template to launch more)",
                                 len(nodes), count)
    return [n.id for n in nodes]


@flow(name="stop-cluster-nodes")
def stop_cluster_nodes(organisation: str, account: str, count: int, cluster: str | None = None,
                       provider: Provider = "aws", timeout: float = 600.0) -> list[str]:
    """Stop ``count`` running compute nodes of the cluster, least recently used first (none a workflow
    leases)."""
    name = cluster or organisation
    api = node_provider(account, provider)
    with _node_lock(provider, lock_wait_s())(organisation, name):
        return _stop_cluster_nodes(api, organisation, name, count, timeout=timeout)


@flow(name="terminate-idle-nodes")
def terminate_idle_nodes(account: str, idle_minutes: float = 30.0, provider: Provider = "aws",
                         organisation: str | None = None) -> dict[str, list[str]]:
    """Terminate idle temporary nodes and stop idle cluster compute nodes (``heroes:last-used`` tag);
    each cluster's under its lock, so none a workflow is leasing at that moment. A cluster whose lock
    another run holds for long is left to the next run (``busy``)."""
    report = _terminate_idle_nodes(node_provider(account, provider), idle_minutes, organisation=organisation,
                                   cluster_lock=_node_lock(provider, IDLE_WAIT_S))
    if report.terminated or report.stopped:
        get_run_logger().warning("idle > %s min: terminated %s, stopped %s", idle_minutes,
                                 list(report.terminated), list(report.stopped))
    if report.busy:
        get_run_logger().warning("cloud cluster(s) %s busy for over %.0f s: their idle nodes are left to the "
                                 "next run", ", ".join(report.busy), IDLE_WAIT_S)
    return {"terminated": list(report.terminated), "stopped": list(report.stopped), "busy": list(report.busy)}


# --- private cloud cluster -----------------------------------------------------------------

def cluster_keys(secret_name: str) -> ServiceKeys:
    """The cluster's service-account key pair, made once and kept in a Secret block.

    It is saved before Terraform runs (see :mod:`heroes_core.cloud.service_keys`); anything
    else kept in the secret beside the pair is dropped from it.
    """
    try:
        stored: Any = load_block(Secret, secret_name).get()
    except ValueError:
        stored = None
    keys = ServiceKeys.from_stored(stored) or ServiceKeys.generate()
    if stored != keys.to_stored():
        value: dict[str, JsonValue] = {**keys.to_stored()}
        Secret(value=SecretValue(value)).save(secret_name, overwrite=True)
    return keys


def _pinned_before(block_name: str, host: str) -> str | None:
    """The host key an earlier run pinned for ``host`` in the centre block, if any."""
    try:
        existing = load_block(HPCCentre, block_name)
    except ValueError:
        return None
    key = existing.host_key.strip()
    return key if key and existing.host == host else None


@flow(name="integrate-cloud-platform")
def integrate_cloud_platform(organisation: str, account: str, provider: Provider = "aws",
                             approve: bool = False, archive: str = DEFAULT_ARCHIVE,
                             variables: dict[str, Any] | None = None, module_dir: str | None = None,
                             terraform_binary: str = "terraform", approval_timeout: int = 24 * 3600,
                             centre_block: str | None = None, host_key_timeout: float = 900.0,
                             node_startup_s: float = 180.0, cores_per_node: int | None = None,
                             database: str = DEFAULT_DATABASE) -> str:
    """Create or converge the organisation's private cloud cluster; register it as an HPC centre.

    ``organisation`` follows the HEROES organisation name rule (lower case);
    ``variables`` override the module's (``service_account``, ``partitions``, ...)
    and are validated before anything is created. After the apply, the
    headnode's SSH host key is read from its serial console (waiting up to
    ``host_key_timeout`` seconds for the node to print it) and pinned. Returns
    the name of the ``HPCCentre`` block (re-saved on every run, so it follows
    the cluster's outputs), with the cloud binding that makes the cluster a placement option
    for the organisation's workflows: its compute nodes' instance type, cores
    (``cores_per_node``, else the price list's vCPUs), count and declared start-up time
    (``node_startup_s``), priced from the cloud price list, and the template new compute nodes are
    launched from (the module makes none: a workflow's lease launches them, up to the maximum); each
    of its partitions gets a price book offering at that price per node-hour (where it has none),
    which its jobs are charged.
    """
    logger = get_run_logger()
    org = organisation
    site = f"{provider}:{org}"
    validate_cluster_variables({"organisation": org, **(variables or {})}, site=site)
    block_name = centre_block or f"{org}-{provider}-cloud"
    account_block = load_account(account, provider)
    archive_block = load_block(CentralArchive, archive)
    bucket = archive_block.ensure_bucket(org)
    backend = BackendConfig.for_organisation(
        org, bucket, region=archive_block.region, endpoint_url=archive_block.endpoint_url,
        access_key=archive_block.access_key_id, secret_key=archive_block.secret_access_key)
    keys = cluster_keys(f"{block_name}-keys")
    with tempfile.TemporaryDirectory(prefix=f"heroes-tf-{org}-") as work:
        run = TerraformRun(Path(module_dir) if module_dir else terraform_module_dir(provider), work,
                           binary=terraform_binary, site=site)
        try:
            tf_vars = validate_cluster_variables({
                **account_block.terraform_variables(run.working_dir), "organisation": org,
                "service_account_public_key": keys.public, **(variables or {}),
            }, site=site)
            price_list = PriceCache().load()
            binding = cluster_binding(provider, account=account, organisation=org,
                                      cluster=str(tf_vars.get("cluster_name") or org),
                                      region=str(tf_vars["region"]), variables=tf_vars,
                                      prices=price_list, startup_s=node_startup_s,
                                      cores_per_node=cores_per_node)
            run.init(backend)
            changes = run.plan(tf_vars)
            markdown = plan_markdown(run.show_plan(), title=f"Private cloud cluster of {org} on {provider}")
            create_markdown_artifact(key=f"cluster-plan-{org}", markdown=markdown,
                                     description="Terraform plan for the organisation's cluster")
            if changes and not approve:
                answer = pause_flow_run(wait_for_input=ClusterApproval, timeout=approval_timeout,
                                        key=f"cluster-plan-{org}")
                logger.info("plan %s: %s", "approved" if answer.approve else "rejected", answer.comment)
                if not answer.approve:
                    raise PlanRejectedError(f"the cluster plan for {org} was not approved: {answer.comment}",
                                            site=site, fix="change the variables and run the flow again")
            if changes:
                run.apply()
            outputs = ClusterOutputs.model_validate(run.outputs())
        finally:
            run.cleanup()
    host_key = headnode_host_key(_nodes_of(account_block), outputs,
                                 _pinned_before(block_name, outputs.headnode_address), site=site,
                                 timeout=host_key_timeout)
    centre = HPCCentre(host=outputs.headnode_address, user=outputs.service_account,
                       private_key=keys.private, host_key=host_key, partitions=outputs.partitions,
                       work_root=outputs.work_root, container_runtime=outputs.container_runtime,
                       cloud=CloudBinding.model_validate({  # validated: the outputs are the module's word
                           **binding.model_dump(), "cluster": outputs.cluster or binding.cluster,
                           "launch_template": outputs.compute_template}))
    centre.save(block_name, overwrite=True)
    publish_cloud_price(load_database(database).budgets().prices, block_name, centre.cloud or binding,
                        outputs.partitions, price_list)
    logger.info("registered %s as HPC centre block %r; pinned host key %s (from headnode %s's console)",
                outputs.headnode_address, block_name, host_key, outputs.headnode_id)
    return block_name
