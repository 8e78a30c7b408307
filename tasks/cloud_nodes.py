"""Prefect tasks for the cloud clusters a workflow runs on: its nodes' state when planning, the
lease taken before a step runs there, and the release once the workflow needs them no more.

The rules are :mod:`heroes_core.cloud.leases`' and :mod:`heroes_core.cloud.billing`'s (the nodes'
start-up is charged to the workflow that started them); these tasks load the centre's cloud binding
and its account block, and log what they did. A workflow releases in three places, so no node
is left running for it: after its last step on a cluster, at its end (a ``finally``), and in its
flow's failure, crash and cancellation hooks (:func:`release_cloud_nodes_hook`), which cover a
process that was killed.

Every acquire and release holds the cluster's lock (:mod:`heroes.tasks.cloud_locks`), a Prefect
global concurrency limit of one slot, since other workflows, their hooks and the idle clean-up
change the same nodes from other processes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import Flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.exceptions import MissingContextError

from heroes.blocks import HeroesDatabase, HPCCentre
from heroes.blocks.aws_account import AWSAccount
from heroes.blocks.oci_account import OCIAccount
from heroes.tasks.cloud_locks import binding_lock
from heroes.tasks.resolve import load_block, load_centre, load_database
from heroes_core.cloud import (
    CloudBinding,
    Lease,
    NodeProvider,
    Release,
    acquire_nodes,
    charge_startup,
    holds_lease,
    release_nodes,
    running_nodes,
)
from heroes_core.costs import partition_offering
from heroes_core.costs.cloud_prices import PriceCache, PriceCacheError, PriceList, load_snapshot
from heroes_core.jobs import JobContext
from heroes_core.sites import SiteConfig


def _logger() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:  # a hook run outside any run context
        import logging

        return logging.getLogger(__name__)


def cloud_provider(binding: CloudBinding) -> NodeProvider:
    """The node provider of the binding's account block (AWS or OCI)."""
    if binding.provider == "aws":
        return load_block(AWSAccount, binding.account).nodes()
    from heroes_core.cloud.oci import OCINodes

    account = load_block(OCIAccount, binding.account)
    return OCINodes.from_config(account.config(), compartment_id=account.compartment_id())


def cloud_binding(centre: str) -> CloudBinding | None:
    """The centre's cloud binding; None for an HPC centre."""
    return load_centre(centre).cloud


def cloud_price_list() -> PriceList:
    """The cloud price cache (``$HEROES_HOME/cloud_prices.json``), else the shipped snapshot."""
    try:
        return PriceCache().load()
    except PriceCacheError as exc:
        _logger().warning("Cloud prices from the snapshot HEROES ships: %s", exc)
        return load_snapshot()


def cloud_running(sites: list[SiteConfig]) -> dict[str, int]:
    """Cloud centre -> its compute nodes running now. A provider that does not answer counts as
    none running: the plan then includes the start-up, which is the cautious side."""
    running = {}
    for site in sites:
        if site.cloud is None:
            continue
        try:
            running[site.name] = running_nodes(cloud_provider(site.cloud), site.cloud)
        except Exception as exc:
            _logger().warning("Nodes of cloud centre %s unknown (%s): start-up included", site.name, exc)
            running[site.name] = 0
    return running


@task(name="acquire-cloud-nodes", cache_policy=NO_CACHE)
def acquire_cloud_nodes(centre: str, workflow: str, nodes: int, hold_s: float) -> Lease:
    """Lease ``nodes`` compute nodes of the cloud centre to ``workflow`` (started if stopped) for
    ``hold_s`` seconds; :class:`~heroes_core.cloud.NodeStartError` if they cannot be had (what
    was started is stopped again), :class:`~heroes_core.cloud.ClusterBusyError` if another run
    changed the cluster's nodes for too long."""
    binding = cloud_binding(centre)
    if binding is None:
        raise ValueError(f"centre {centre} is not a cloud cluster")
    provider = cloud_provider(binding)
    with binding_lock(binding):
        lease = acquire_nodes(provider, binding, workflow, nodes, hold_s=hold_s)
    started = f"{', '.join(lease.started)} in {lease.startup_s:.0f} s" if lease.started else "none"
    get_run_logger().info("Leased %d node(s) of %s until %s: %s (started %s)", len(lease.nodes), centre,
                          lease.until.isoformat(timespec="seconds"), ", ".join(lease.nodes), started)
    return lease


@task(name="charge-node-startup", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def charge_node_startup(database: HeroesDatabase | str, lease: Lease, binding: CloudBinding,
                        payer: JobContext) -> Decimal:
    """Charge the start-up of the nodes ``lease`` started on ``payer``'s centre (its cloud ``binding``) to
    the budgets its job pays from, at its partition's price (see :mod:`heroes_core.cloud.billing`);
    charging the same start again adds nothing."""
    budgets = load_database(database).budgets()
    offering = partition_offering(budgets.prices, payer.site, payer.partition)
    lines = charge_startup(budgets, lease, binding, offering, payer)
    amount = sum((line.amount for line in lines), Decimal(0))
    if lines:
        get_run_logger().info("Charged %s %s for the start-up of %s's node(s) %s (%.0f s), with job %s",
                              amount, lines[0].currency, payer.site, ", ".join(lease.started),
                              lease.startup_s, payer.key)
    return amount


def release_centre(centre: str, binding: CloudBinding, workflow: str) -> Release:
    """Drop ``workflow``'s lease on the centre's nodes and stop those no other lease holds.

    A workflow's end releases every cluster of its organisation, most of which it never leased:
    those are skipped before the lock, so that it does not wait for other workflows' starts."""
    provider = cloud_provider(binding)
    if not holds_lease(provider, binding, workflow):
        return Release()
    with binding_lock(binding):
        done = release_nodes(provider, binding, workflow)
    if done.released:
        _logger().info("Released %s's node(s) %s; stopped %s", centre, ", ".join(done.released),
                       ", ".join(done.stopped) or "none (leased by other workflows)")
    return done


@task(name="release-cloud-nodes", cache_policy=NO_CACHE)
def release_cloud_nodes(centre: str, workflow: str) -> list[str]:
    """Release ``workflow``'s nodes of the cloud centre; return the nodes stopped."""
    binding = cloud_binding(centre)
    return [] if binding is None else list(release_centre(centre, binding, workflow).stopped)


def cloud_centres(organisation: str | None = None) -> dict[str, CloudBinding]:
    """Every centre block with a cloud binding (of ``organisation``, if named), by block name."""
    found: dict[str, CloudBinding] = {}
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            page = client.read_block_documents_by_type(HPCCentre.get_block_type_slug(), offset=offset,
                                                        limit=200, include_secrets=False)
            for document in page:
                data = document.data.get("cloud")
                if document.name and data:
                    binding = CloudBinding.model_validate(data)
                    if organisation is None or binding.organisation == organisation:
                        found[document.name] = binding
            if len(page) < 200:
                return found
            offset += 200


def release_workflow_nodes(workflow: str, organisation: str | None = None) -> list[str]:
    """Release ``workflow``'s leases on every cloud cluster (of ``organisation``); the nodes stopped.

    Each cluster is tried even if another fails; failures are logged, never raised, since this
    runs where nothing could handle them (an ending flow, its hooks)."""
    stopped: list[str] = []
    for centre, binding in sorted(cloud_centres(organisation).items()):
        try:
            stopped += release_centre(centre, binding, workflow).stopped
        except Exception as exc:
            _logger().error("Could not release workflow %s's nodes of %s: %s; they stop when their lease "
                            "expires and they are idle", workflow, centre, exc)
    return stopped


def release_cloud_nodes_hook(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """``on_failure`` / ``on_crashed`` / ``on_cancellation`` hook of the workflow flows: release the
    run's leases on every cloud cluster of its organisation (every cluster if the run's
    parameters do not name it), so that no node stays running for a workflow that ended."""
    named = flow_run.parameters.get("organisation")
    stopped = release_workflow_nodes(str(flow_run.id), named if isinstance(named, str) else None)
    if stopped:
        _logger().warning("Workflow %s ended %s: stopped cloud node(s) %s", flow_run.id, state.type.value,
                          ", ".join(stopped))
