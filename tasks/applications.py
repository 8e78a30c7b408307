"""Prefect tasks for applications: resolve a run by name, charge its licence, check and record a
functional test, publish. The catalogue is in the project database (the HeroesDatabase block)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from heroes.blocks import CentralArchive, HeroesDatabase
from heroes.tasks.resolve import load_archive, load_database
from heroes_core.catalog import ApplicationCatalogue, ApplicationVersion, PublicationTarget
from heroes_core.catalog.runs import AppJob, ResolvedApp, resolve
from heroes_core.costs import ChargeItem, PriceBook, Usage
from heroes_core.errors import SpecError
from heroes_core.jobs import JobContext
from heroes_core.models import JobSpec, JobStatus

LICENCE_KIND = "application"


def catalogue_of(database: HeroesDatabase | str) -> ApplicationCatalogue:
    return ApplicationCatalogue(load_database(database).database())


@task(name="resolve-application", cache_policy=NO_CACHE)
def resolve_application(database: HeroesDatabase | str, job: AppJob, *, organisation: str,
                        project: str | None) -> ResolvedApp:
    """The version to run, checked: published to the caller, parameters valid, a command to run."""
    resolved = resolve(catalogue_of(database), job, organisation=organisation, project=project)
    get_run_logger().info("Running %s %s (%s)%s", resolved.application.name, resolved.version.version,
                          resolved.version.digest,
                          f" under licence '{resolved.publication.licence_terms}'" if resolved.publication
                          else " as its owners")
    return resolved


@task(name="licence-offering", cache_policy=NO_CACHE)
def licence_offering(database: HeroesDatabase | str, resolved: ResolvedApp) -> int | None:
    """The price book offering of the licence fee, found before the job runs (None: no fee)."""
    if resolved.publication is None:
        return None
    prices = PriceBook(load_database(database).database())
    try:
        return prices.find_offering(resolved.application.organisation, LICENCE_KIND,
                                    resolved.publication.price_offering)
    except LookupError as error:
        raise SpecError(f"the licence price '{resolved.publication.price_offering}' of "
                        f"{resolved.application.name} is not in the price book ({error})", site="catalogue",
                        fix=f"its provider publishes the price under provider "
                            f"'{resolved.application.organisation}', kind '{LICENCE_KIND}'") from error


@task(name="charge-licence", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def charge_licence(database: HeroesDatabase | str, context: JobContext, spec: JobSpec, status: JobStatus,
                   offering_id: int) -> str:
    """Charge the application's licence for this run (per use, and per core-hour if priced so)."""
    budgets = load_database(database).budgets()
    usage = Usage.of_job(seconds=status.elapsed_s or 0.0, cores=spec.cores, nodes=spec.nodes)
    amount = budgets.commit(context.workflow_id, organisation=context.organisation, project=context.project,
                            user=context.user, job_key=context.key,
                            items=[ChargeItem(offering_id=offering_id, usage=usage, site=context.site)],
                            incurred_at=(status.last_event_time or datetime.now(UTC)).astimezone(UTC),
                            scheduler_job_id=status.job_id or None)
    get_run_logger().info("Charged the licence: %s", amount)
    return str(amount)


@task(name="read-job-output", cache_policy=NO_CACHE)
def read_job_outputs(archive: CentralArchive | str, context: JobContext,
                     files: Sequence[str]) -> dict[str, bytes | None]:
    """The bytes of some of a job's outputs in the archive (None for one it did not produce)."""
    block = load_archive(archive)
    client = block.s3_client()
    bucket = block.endpoint().bucket_for(context.organisation)
    found: dict[str, bytes | None] = {}
    for name in files:
        key = f"{context.user}/jobs/{context.key}/{name}"
        try:
            found[name] = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            found[name] = None
    return found


@task(name="record-functional-test", cache_policy=NO_CACHE)
def record_functional_test(database: HeroesDatabase | str, version: ApplicationVersion, *, passed: bool,
                           flow_run_id: str, actor: str) -> ApplicationVersion:
    return catalogue_of(database).record_functional_test(version.name, version.version, digest=version.digest,
                                                         passed=passed, flow_run_id=flow_run_id, actor=actor)


@task(name="publish-version", cache_policy=NO_CACHE)
def publish_version(database: HeroesDatabase | str, version: ApplicationVersion,
                    targets: Sequence[PublicationTarget], *, licence_terms: str, price_offering: str,
                    actor: str, licence_seats: int | None = None) -> ApplicationVersion:
    return catalogue_of(database).publish(version.name, version.version, targets, licence_terms=licence_terms,
                                          price_offering=price_offering, actor=actor,
                                          licence_seats=licence_seats)


@task(name="unpublish-version", cache_policy=NO_CACHE)
def unpublish_version(database: HeroesDatabase | str, name: str, version: str, target: PublicationTarget, *,
                      actor: str) -> ApplicationVersion:
    return catalogue_of(database).unpublish(name, version, target, actor=actor)
