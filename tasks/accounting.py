"""Prefect tasks of accounting and energy (modules 3 and 8): the EAR policy a job runs under, and
one accounting record per finished job, whichever flow ran it.

Accounting never fails a job: its outputs are in the archive and its cost charged by the time it
is accounted, so a scheduler that does not answer ``sacct`` (or ``eacct``) is logged as a
warning naming the centre and the job, and the job's run goes on.
"""

from __future__ import annotations

import logging

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from heroes.blocks import HeroesDatabase, HPCCentre
from heroes.tasks.resolve import load_centre, load_database
from heroes_core.costs import Ledger, PriceBook
from heroes_core.decision.learning import accounting_record, actual_cost
from heroes_core.decision.metadata import MetadataStore, StoredJobMetadata
from heroes_core.energy import eacct_argv, parse_eacct_csv
from heroes_core.energy.policy import EnergyPolicies, choose_policy
from heroes_core.enrolment import Enrolments
from heroes_core.errors import HeroesError, SpecError
from heroes_core.jobs import JobContext
from heroes_core.logs import ACCOUNTING_DATASET, NAMESPACE
from heroes_core.models import JobSpec, JobStatus

ACCOUNTING_LOG = logging.getLogger("heroes.accounting")


def _has_ear(database: HeroesDatabase, centre: str) -> bool:
    enrolment = Enrolments(database.database()).get(centre)
    return enrolment is not None and enrolment.has_ear


@task(name="choose-energy-policy", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def choose_energy_policy(database: HeroesDatabase | str, context: JobContext, spec: JobSpec) -> JobSpec:
    """The spec as it runs: on a centre whose enrolment found EAR, with the EAR policy the
    organisation sets (or the user's pick, where the organisation lets users choose); elsewhere
    with none. A pick the organisation does not allow is refused before anything is submitted."""
    block = load_database(database)
    setting = EnergyPolicies(block.database()).get(context.organisation)
    policy = choose_policy(setting, spec.energy_policy, ear=_has_ear(block, context.site))
    if policy is not None:
        get_run_logger().info("Job %s runs under EAR policy %s on %s", context.key, policy, context.site)
    return spec.model_copy(update={"energy_policy": policy})


@task(name="account-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def account_job(database: HeroesDatabase | str, centre: HPCCentre | str, context: JobContext, spec: JobSpec,
                status: JobStatus, job_dir: str, *, application: str,
                application_version: str | None) -> StoredJobMetadata | None:
    """Record what the finished job used and consumed (energy with its provenance) and cost."""
    logger = get_run_logger()
    block = load_database(database)
    centre_block = load_centre(centre)
    site = centre_block.site()
    try:
        usage = site.scheduler.usage(status.job_id)
    except HeroesError as error:
        logger.warning("Job %s (%s on %s) not accounted: the scheduler's accounting did not answer: %s",
                       context.key, status.job_id, context.site, error)
        return None
    ear_energy = None
    if _has_ear(block, context.site):
        result = site.transport.run(eacct_argv(status.job_id, f"{job_dir.rstrip('/')}/.heroes-eacct.csv"))
        ear = parse_eacct_csv(result.stdout, status.job_id) if result.ok else None
        if ear is None or ear.problems or ear.energy_j is None:
            why = "; ".join(ear.problems) if ear is not None and ear.problems else result.stderr.strip()[:300]
            logger.warning("EAR's energy of job %s on %s could not be read (%s): using the next source",
                           status.job_id, context.site, why or "no line for the job")
        else:
            ear_energy = ear.energy_j
    db = block.database()
    lines = Ledger(db).lines(job_key=context.key)
    currency = lines[0].currency if lines else None
    try:
        cost = actual_cost(lines, currency, PriceBook(db)) if currency else None
    except SpecError as error:
        logger.warning("Cost of job %s not accounted: %s", context.key, error)
        cost = currency = None
    record = accounting_record(usage, context, application=application,
                               application_version=application_version,
                               requested_time_s=spec.time_limit_minutes * 60.0, ear_energy_j=ear_energy,
                               power=centre_block.site_config().power_model(context.partition),
                               energy_policy=spec.energy_policy, cost=cost, currency=currency)
    store = MetadataStore(db)
    store.record(record)
    energy = (f"{record.energy_j / 1000:.2f} kJ ({record.energy_source})" if record.energy_j is not None
              else "unknown (no measurement, no power model declared)")
    logger.info("Accounted job %s: %.0f s on %d core(s), energy %s", status.job_id, record.used_time_s,
                record.cores, energy)
    stored = store.get(context.key)
    if stored is not None:
        log_accounting(stored, ACCOUNTING_DATASET)
    return stored


def log_accounting(record: StoredJobMetadata, dataset: str) -> None:
    """One log record with the job's figures (``heroes.job``) under ``event.dataset``: what reaches
    the search store's dashboards, stamped with the job's HEROES fields like its other records."""
    ACCOUNTING_LOG.info("Job %s (%s) on %s: %s", record.job_key, record.application, record.site,
                        record.outcome, extra={
                            "event.dataset": dataset,
                            NAMESPACE: {"job": record.accounting_fields().model_dump(mode="json")}})
