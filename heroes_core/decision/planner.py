"""From a workflow spec to a placement problem: predict, price and constrain every option.

An option is one (centre, partition) for one job. Its time is the predicted
median runtime plus the expected queue wait from the centre's current load plus
the job's transfers at the centre's declared bandwidth to the archive; its
cost is the centre's business model (and the application's licence fee)
applied to that runtime at today's prices, plus the archive's price of those
transfers; its energy is the predicted energy. Options that cannot work (too
many cores or GPUs for the centre, a time limit above the partition's) stay in
the problem, marked with why, so the user sees them.

HEROES moves every file through the central archive (a job's inputs from the
user's area, a parent's outputs to its children), never from centre to centre,
so what a job moves depends only on its own centre's link: the transfers sit in
the options, and the placement's edges only order the jobs (no cross-site term).

An organisation's private cloud cluster is a candidate for its workflows only, priced from the
cloud provider's price list with its nodes' start-up in time and cost
(:mod:`heroes_core.decision.cloud_options`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from heroes_core.catalog import Catalog
from heroes_core.costs import PriceBook, PriceNotFoundError, Usage, partition_offering, price_lines
from heroes_core.costs.cloud_prices import PriceList
from heroes_core.costs.metering import TRANSFER_OFFERING
from heroes_core.costs.pricing import total
from heroes_core.data import Archive, ArchivePath, Area
from heroes_core.decision.cloud_options import check_tenancy, cloud_capacity, cloud_terms
from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Option,
    PlacementProblem,
    Weights,
)
from heroes_core.decision.policy import DecisionPolicy, goals_for
from heroes_core.decision.predict import Prediction, Predictor
from heroes_core.errors import SpecError
from heroes_core.schedulers import SiteLoad
from heroes_core.sites import SiteConfig
from heroes_core.workflows import WorkflowJob, WorkflowSpec


class OptionDetail(BaseModel):
    """What the UI shows next to an option: the prediction behind it and its price."""

    model_config = ConfigDict(frozen=True)

    site: str
    partition: str | None
    prediction: Prediction | None
    cost: Decimal
    currency: str
    queue_wait_s: float
    note: str


class PlanningInputs(BaseModel):
    """Everything the planner needs besides the spec; built by the flow from blocks."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    sites: list[SiteConfig]
    catalog: Catalog
    licences: dict[str, int] = {}
    """Job id -> the price book offering of its application's licence fee (catalogue jobs that
    pay one)."""
    licence_seats: dict[str, tuple[str, int]] = {}
    """Job id -> (its licence, the seats the publication allows a workflow) for catalogue jobs
    whose licence limits the runs at once; the jobs sharing a licence share its seats."""
    unavailable_share: dict[str, float] = {}
    """Centre -> the share of its CPUs its last node-state event reported down or drained."""
    policy: DecisionPolicy | None = None
    """The organisation's decision policy for the workflow (None: the spec's goals as given)."""
    input_gb: dict[str, float] = {}
    """Job id -> the size of its inputs in the archive, in GB (read when planning)."""
    archive: str | None = None
    """The central archive's provider name in the price book: its price per GB transferred is
    charged on every stage-in and stage-out, so the planner prices it beside the compute."""
    currency: str = "EUR"
    budget: Decimal | None = None
    loads: dict[str, SiteLoad] = {}
    organisation: str | None = None
    """Whose workflow it is: an organisation's private cloud clusters are candidates for it only."""
    cloud_prices: PriceList | None = None
    """The cloud providers' on-demand prices (the cache's list); None: the snapshot HEROES ships."""
    cloud_running: dict[str, int] = {}
    """Cloud centre -> its compute nodes running now (a job needing no more waits for no start-up)."""


def expected_queue_wait_s(load: SiteLoad | None, cores: int) -> float:
    """A crude, monotone wait estimate: zero while the job fits in idle CPUs, else a minute
    per pending job ahead. Re-planning only needs it to rank centres consistently."""
    if load is None or load.idle_cpus >= cores:
        return 0.0
    return 60.0 * (load.pending_jobs + 1)


def capacity(inputs: PlanningInputs) -> dict[str, int]:
    """Centre -> the CPUs of its nodes up now, for the placement's capacity limit (the workflow's
    jobs on a centre, taken at once). Idle CPUs are not the limit: a busy centre queues the jobs,
    which the expected wait already prices. A centre that did not answer is not limited."""
    return {name: load.total_cpus - load.unavailable_cpus for name, load in inputs.loads.items()} | \
        cloud_capacity(inputs.sites)


def _partitions(site: SiteConfig) -> list[str | None]:
    if site.partitions:
        return list(site.partitions)
    return [site.default_partition]


class Transfers(BaseModel):
    """What one job moves through the archive: its inputs and parents' files in, its files for
    children out (GB), and the archive's price per GB transferred (in the plan's currency)."""

    model_config = ConfigDict(frozen=True)

    in_gb: float = 0.0
    out_gb: float = 0.0
    price_per_gb: Decimal = Decimal(0)

    def seconds(self, site: SiteConfig) -> float:
        return (self.in_gb + self.out_gb) * 8 / site.archive_bandwidth_gbps

    @property
    def cost(self) -> Decimal:
        return self.price_per_gb * Decimal(str(self.in_gb + self.out_gb))


def input_sizes(spec: WorkflowSpec, archive: Archive, area: Area) -> dict[str, float]:
    """Job id -> the size in GB of its inputs in ``area`` (the user's home): read before planning,
    so a missing input is refused before anything runs rather than at its job's stage-in."""
    sizes: dict[str, float] = {}
    for job in spec.jobs:
        total = 0
        for name in job.inputs:
            found = archive.files(ArchivePath(area=area, path=name))
            if not found:
                raise SpecError(f"input '{name}' of job '{job.id}' is not in {area.label}", site="archive",
                                fix="upload it first (heroes data put), or correct the path")
            total += sum(item.size or 0 for item in found)
        if total:
            sizes[job.id] = total / 1e9
    return sizes


def _transfer_price(prices: PriceBook, inputs: PlanningInputs, now: datetime) -> Decimal:
    """The archive's price per GB transferred, converted; 0 where it publishes none."""
    if inputs.archive is None:
        return Decimal(0)
    try:
        offering = prices.find_offering(inputs.archive, "transfer", TRANSFER_OFFERING)
        _, model = prices.price_at(offering, now)
    except PriceNotFoundError:
        return Decimal(0)
    return prices.convert(model.per_gb_transferred, model.currency, inputs.currency, now)


def _transfers(spec: WorkflowSpec, inputs: PlanningInputs, price: Decimal) -> dict[str, Transfers]:
    def moved(job: str) -> Transfers:
        incoming = inputs.input_gb.get(job, 0.0) + sum(edge.data_gb for edge in spec.incoming(job))
        outgoing = sum(edge.data_gb for edge in spec.edges if edge.parent == job)
        return Transfers(in_gb=incoming, out_gb=outgoing, price_per_gb=price)
    return {job.id: moved(job.id) for job in spec.jobs}


def _option(job: WorkflowJob, site: SiteConfig, partition: str | None, predictor: Predictor,
            prices: PriceBook, inputs: PlanningInputs, now: datetime,
            weighs_energy: bool, moved: Transfers) -> tuple[Option, OptionDetail]:
    limits = site.limits
    reasons = []
    if job.cores > limits.max_cores_per_job:
        reasons.append(f"{job.cores} cores > the centre's {limits.max_cores_per_job}")
    if job.nodes > limits.max_nodes_per_job:
        reasons.append(f"{job.nodes} nodes > the centre's {limits.max_nodes_per_job}")
    load = inputs.loads.get(site.name)
    share = inputs.unavailable_share.get(site.name, 0.0)
    # a cloud cluster's stopped nodes look down to its scheduler until HEROES starts them
    if site.cloud is None and ((load is not None and not load.usable) or share >= 1.0):
        reasons.append(f"every node of {site.name} is down or drained")
    if job.time_limit_minutes > limits.max_time_limit_minutes:
        reasons.append(f"time limit {job.time_limit_minutes} min > the centre's "
                       f"{limits.max_time_limit_minutes}")
    gpus = site.partition_gpus(partition)
    if job.gpu_type and gpus is not None and gpus.type != job.gpu_type:
        reasons.append(f"no {job.gpu_type} GPUs on {site.name}/{partition or 'default'} "
                       f"(it has {gpus.type or 'untyped'} ones)")
    all_gpus = job.gpus * job.nodes  # a request is per node, as Slurm's --gres
    estimate_s = job.estimate_minutes * 60 if job.estimate_minutes else None
    prediction = predictor.predict(job.application, site.name, cores=job.cores, nodes=job.nodes,
                                   size=job.size, user_estimate_s=estimate_s, gpus=all_gpus,
                                   power=site.power_model(partition))
    runtime = prediction.runtime_s_p50
    if prediction.runtime_s_p90 > job.time_limit_minutes * 60:
        reasons.append(f"predicted p90 runtime {prediction.runtime_s_p90:.0f} s exceeds the "
                       f"time limit of {job.time_limit_minutes} min")
    usage = Usage.of_job(seconds=runtime, cores=job.cores, nodes=job.nodes, gpus=all_gpus)
    cloud = cloud_terms(job, site, runtime, running=inputs.cloud_running.get(site.name, 0),
                        price_list=inputs.cloud_prices, prices=prices, currency=inputs.currency, now=now)
    reasons += cloud.reasons
    cost = moved.cost + cloud.cost
    try:  # a cloud cluster has no price book offering: its provider's price is above
        offerings = [] if site.cloud is not None else [partition_offering(prices, site.name, partition)]
        if job.id in inputs.licences:
            offerings.append(inputs.licences[job.id])
        for offering in offerings:
            _, model = prices.price_at(offering, now)
            cost += prices.convert(total(price_lines(model, usage)), model.currency, inputs.currency, now)
    except PriceNotFoundError as exc:
        reasons.append(f"no price: {exc.detail}")
    wait = expected_queue_wait_s(load, job.cores)
    note = prediction.note
    moving = moved.seconds(site)
    if moving >= 1:
        note += f"; {moving:.0f} s moving {moved.in_gb + moved.out_gb:.3g} GB through the archive"
    if 0.0 < share < 1.0:  # a degraded centre drains its queue more slowly
        wait /= 1.0 - share
        note += f"; {site.name} degraded: {share:.0%} of its CPUs down or drained"
    if prediction.energy_j_p50 is None and weighs_energy:
        # an unknown figure must not look like a free one to an energy objective
        reasons.append(f"energy unknown on {site.name}/{partition or 'default'}: nothing measured "
                       "and no power model declared for the partition")
    energy = prediction.energy_j_p50 or 0.0
    licence = inputs.licence_seats.get(job.id)
    if cloud.startup_s:
        note += f"; {cloud.startup_s:.0f} s to start {site.name}'s nodes"
    option = Option(site=site.name, partition=partition,
                    time_s=max(runtime + wait + moving + cloud.startup_s, 1e-3),
                    cost=float(cost), energy_j=energy, cores=job.cores * job.nodes,
                    gpus=gpus.per_node if gpus is not None else 0,
                    licence=licence[0] if licence else None, infeasible_reason="; ".join(reasons) or None)
    detail = OptionDetail(site=site.name, partition=partition, prediction=prediction,
                          cost=cost.quantize(Decimal("0.01")), currency=inputs.currency,
                          queue_wait_s=wait + cloud.startup_s, note=note)
    return option, detail


def build_problem(spec: WorkflowSpec, inputs: PlanningInputs, predictor: Predictor,
                  prices: PriceBook, *, now: datetime | None = None
                  ) -> tuple[PlacementProblem, dict[str, list[OptionDetail]]]:
    """The placement problem of ``spec`` and, per job, the details of each option."""
    now = now or datetime.now(UTC)
    check_tenancy(inputs.sites, inputs.organisation)
    known = {site.name: site for site in inputs.sites}
    unknown_sites = sorted(set(spec.allowed_sites or ()) - set(known))
    if unknown_sites:
        raise SpecError(f"unknown site(s) {', '.join(unknown_sites)}",
                        fix=f"use registered centres: {', '.join(sorted(known))}")
    goals = goals_for(spec, inputs.policy)
    # a policy may name centres that are not candidates today (not registered, failing compliance)
    allowed = set(goals.allowed_sites) & set(known) if goals.allowed_sites else set(known)
    if not allowed:
        raise SpecError(f"none of the centres allowed ({', '.join(goals.allowed_sites or ())}) is a "
                        f"candidate now", site="decision", fix=f"{goals.policy}; candidates: "
                                                               f"{', '.join(sorted(known))}")
    jobs: list[Job] = []
    details: dict[str, list[OptionDetail]] = {}
    weighs_energy = goals.weighs_energy
    transfers = _transfers(spec, inputs, _transfer_price(prices, inputs, now))
    for job in spec.jobs:
        # a catalogue application's image goes wherever the job is placed; a raw job's image
        # must already be on the centre
        hosts = set(known) if job.from_catalogue else set(inputs.catalog.get(job.application).images)
        options: list[Option] = []
        details[job.id] = []
        for site_name in sorted(hosts & set(known)):
            site = known[site_name]
            for partition in _partitions(site):
                option, detail = _option(job, site, partition, predictor, prices, inputs, now,
                                         weighs_energy, transfers[job.id])
                options.append(option)
                details[job.id].append(detail)
        if not options:
            raise SpecError(f"application '{job.application}' of job '{job.id}' is published on no "
                            f"registered centre", fix="publish it, or register the centres it is on")
        jobs.append(Job(id=job.id, options=options, required_gpus=job.gpus))  # per node, as Option.gpus
    # every file moves through the archive, whether parent and child share a centre or not: the
    # transfers are in each job's own time and cost above, and an edge only orders its jobs
    edges = [Edge(parent=e.parent, child=e.child) for e in spec.edges]
    weights = Weights(**goals.weights) if goals.weights else None
    constraints = Constraints(
        site_capacity_cores=capacity(inputs),
        licences=dict(inputs.licence_seats.values()),
        budget=float(inputs.budget) if inputs.budget is not None else None,
        deadline_s=spec.deadline_minutes * 60 if spec.deadline_minutes else None,
        energy_j=goals.energy_cap_kj * 1000 if goals.energy_cap_kj is not None else None,
        allowed_sites=allowed,
    )
    problem = PlacementProblem(jobs=jobs, edges=edges, constraints=constraints,
                               strategy=goals.strategy, weights=weights)
    return problem, details

