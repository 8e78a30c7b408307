"""Prefect tasks for metering the archive: which organisations have a bucket, what each stored on
a day, and the transfers not charged yet (:mod:`heroes_core.costs.metering`). Each charge is
idempotent, so retries and re-runs are safe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from heroes.blocks import CentralArchive, HeroesDatabase
from heroes.tasks.resolve import load_archive, load_database
from heroes_core.costs.metering import Metered, Metering, organisations_in


@task(name="list-archive-organisations", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def archive_organisations(archive: CentralArchive | str) -> list[str]:
    """The organisations that have a bucket in the archive (named by its bucket template)."""
    block = load_archive(archive)
    buckets = [b["Name"] for b in block.s3_client().list_buckets().get("Buckets", [])]
    return organisations_in(block.endpoint(), buckets)


@task(name="meter-storage", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def meter_storage(database: HeroesDatabase | str, archive: CentralArchive | str, provider: str,
                  organisation: str, day: date) -> list[Metered]:
    """Charge one UTC day of what each area of the organisation's bucket holds now, at the
    storage price of ``provider`` (the archive's name in the price book)."""
    usage = load_archive(archive).archive().bucket_usage(organisation)
    metered = Metering(load_database(database).budgets(), provider).meter_storage(
        organisation, usage, day)
    _log(metered)
    return metered


@task(name="meter-transfers", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def meter_transfers(database: HeroesDatabase | str, provider: str,
                    organisations: Sequence[str] | None = None) -> list[Metered]:
    """Charge every succeeded transfer not charged yet (of ``organisations`` if given)."""
    metering = Metering(load_database(database).budgets(), provider)
    metered = [metering.meter_transfer(record)
               for record in metering.unmetered_transfers(organisations)]
    _log(metered)
    return metered


def _log(metered: list[Metered]) -> None:
    logger = get_run_logger()
    for item in metered:
        if item.outcome == "no price":
            logger.warning("%s of %s: %s", item.what, item.organisation, item.note)
        elif item.outcome == "charged":
            logger.info("Charged %s %s for %s of %s", item.amount, item.currency, item.what,
                        item.organisation)


__all__ = ["archive_organisations", "meter_storage", "meter_transfers"]
