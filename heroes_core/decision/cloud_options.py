"""An organisation's private cloud cluster as a placement option: who may use it, what a job
there costs and how long its nodes take to start.

A cloud cluster is registered as a centre (its headnode is the login node) with a
:class:`~heroes_core.sites.CloudBinding`. It differs from an HPC centre in three ways the
planner must see:

* tenancy: its nodes are paid by the organisation that owns it, so it is a candidate for that
  organisation's workflows only, and naming another's is refused (:func:`check_tenancy`);
* price: the provider's on-demand price of its instance type in its region (the cloud price
  list, :mod:`heroes_core.costs.cloud_prices`) for the job's nodes over its runtime *and* the
  nodes' start-up, which is billed too, converted to the plan's currency as the price book
  converts; no price for the instance type makes the option infeasible, saying so;
* time: a stopped node takes the declared start-up before it takes jobs; when enough of the
  cluster's nodes are running already, the job waits for none.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from heroes_core.costs import PriceBook
from heroes_core.costs.cloud_prices import PriceList, UnknownPriceError, load_snapshot
from heroes_core.errors import SpecError
from heroes_core.sites import SiteConfig
from heroes_core.workflows import WorkflowJob


class CloudTerms(BaseModel):
    """What a cloud cluster adds to a job's option: start-up seconds, the nodes' cost, and why the
    option cannot run (empty when it can)."""

    model_config = ConfigDict(frozen=True)

    startup_s: float = 0.0
    cost: Decimal = Decimal(0)
    reasons: tuple[str, ...] = ()


def check_tenancy(sites: list[SiteConfig], organisation: str | None) -> None:
    """Refuse another organisation's private cloud cluster among a workflow's candidates."""
    foreign = [(site.name, site.cloud.organisation) for site in sites
               if site.cloud is not None and site.cloud.organisation != organisation]
    if foreign:
        named = ", ".join(f"{name} (of {owner})" for name, owner in foreign)
        raise SpecError(f"centre(s) {named}: private cloud cluster(s) of another organisation; "
                        f"workflows of {organisation or 'no organisation'} cannot be placed there",
                        site="decision",
                        fix="leave them out of the centres, the spec's allowed_sites and the policy's "
                            "allowed platforms")


def cloud_terms(job: WorkflowJob, site: SiteConfig, runtime_s: float, *, running: int,
                price_list: PriceList | None, prices: PriceBook, currency: str,
                now: datetime) -> CloudTerms:
    """The start-up, cost and refusals of running ``job`` (``runtime_s`` predicted) on the cloud
    cluster ``site``, of which ``running`` compute nodes run now; nothing for an HPC centre."""
    binding = site.cloud
    if binding is None:
        return CloudTerms()
    reasons = []
    if job.cores > binding.cores_per_node:
        reasons.append(f"{job.cores} cores per node > the {binding.cores_per_node} of "
                       f"{binding.instance_type}")
    if job.nodes > binding.max_nodes:
        reasons.append(f"{job.nodes} nodes > the cluster's {binding.max_nodes}")
    startup = 0.0 if running >= job.nodes else binding.startup_s
    cost = Decimal(0)
    try:
        amount, price_currency = (price_list or load_snapshot()).node_cost(
            binding.provider, binding.region, binding.instance_type, nodes=job.nodes,
            seconds=runtime_s + startup, ocpus=binding.ocpus, memory_gb=binding.memory_gb)
        cost = prices.convert(amount, price_currency, currency, now)
    except (UnknownPriceError, SpecError) as exc:
        reasons.append(f"no price: {exc.detail}")
    return CloudTerms(startup_s=startup, cost=cost, reasons=tuple(reasons))


def cloud_capacity(sites: list[SiteConfig]) -> dict[str, int]:
    """Cloud centre -> all its nodes' cores: its stopped nodes start on demand, so the CPUs its
    scheduler sees up now are not its limit."""
    return {site.name: site.cloud.max_nodes * site.cloud.cores_per_node
            for site in sites if site.cloud is not None}
