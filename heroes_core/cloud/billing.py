"""What a cloud cluster's provider bills that no job's charge covers: its nodes' start-up.

A provider bills a node from the moment it is started, but a job is charged for its elapsed
time, which begins once the node runs. The seconds between are billed to the workflow that
started the nodes, at the per node-hour price its job pays there, and attributed to that job:
the workflow's ledger then holds what the provider will invoice, and the job's actual cost can
be set beside its predicted one, which counts the start-up too
(:mod:`heroes_core.decision.cloud_options`).
"""

from __future__ import annotations

from heroes_core.cloud.leases import Lease
from heroes_core.costs import Budgets, ChargeItem, PriceLine, Usage
from heroes_core.jobs import JobContext
from heroes_core.sites import CloudBinding


def _startup_charge(lease: Lease, binding: CloudBinding, offering: int, site: str) -> ChargeItem | None:
    """The start-up of the nodes ``lease`` started, priced at ``offering``; None if it started none."""
    if not lease.started:
        return None
    nodes = len(lease.started)
    usage = Usage.of_job(seconds=lease.startup_s, cores=binding.cores_per_node * nodes, nodes=nodes)
    return ChargeItem(offering_id=offering, usage=usage, site=site)


def charge_startup(budgets: Budgets, lease: Lease, binding: CloudBinding, offering: int,
                   payer: JobContext) -> list[PriceLine]:
    """Charge the start-up of the nodes ``lease`` started to the budgets ``payer``'s job pays from.

    Once per start: a node started again later in the same workflow (released between its waves)
    is charged again, the same start charged twice is not. Returns the lines newly written.
    """
    if lease.workflow != payer.workflow_id:
        raise ValueError(f"the lease of workflow {lease.workflow} cannot be charged to workflow "
                         f"{payer.workflow_id}")
    item = _startup_charge(lease, binding, offering, payer.site)
    if item is None:
        return []
    started_at = lease.at.isoformat(timespec="microseconds")
    return budgets.charge_direct(
        f"startup:{payer.site}/{started_at}", organisation=payer.organisation, project=payer.project,
        user=payer.user, workflow_id=payer.workflow_id, job_key=payer.key, items=[item], incurred_at=lease.at)
