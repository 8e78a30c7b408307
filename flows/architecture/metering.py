"""Architecture workflow of the costs module: metering the archive's storage and transfers.

``meter_data_usage`` runs daily (deployment ``meter-data-usage``, just after midnight UTC). It
charges yesterday's storage of every organisation's bucket and every succeeded transfer not
charged yet, through the ledger (:mod:`heroes_core.costs.metering`), and shows what it did as a
table artifact.

The organisations are those with a bucket in the archive (its bucket template names them), not
those with a budget: storage costs whether or not a budget is in force (the ledger keeps the
lines, the billing report shows them), an organisation whose budget ended still stores data,
and one with a budget but no bucket has nothing to meter. Transfers need no list: every
unmetered one is in the transfer log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE
from heroes.tasks.metering import archive_organisations, meter_storage, meter_transfers
from heroes_core.costs.metering import Metered
from heroes_core.errors import HeroesError

METERING_CRON = "15 0 * * *"  # 00:15 UTC: yesterday is over everywhere HEROES meters it


COLUMNS = ("organisation", "project", "user", "what", "bytes", "quantity", "amount", "currency",
           "outcome", "note")


class MeteringError(HeroesError):
    """Some organisations' storage could not be metered (the others were)."""


@flow(name="meter-data-usage")
def meter_data_usage(day: date | None = None, organisations: list[str] | None = None,
                     database: str = DEFAULT_DATABASE, archive: str = DEFAULT_ARCHIVE
                     ) -> list[dict[str, str]]:
    """Charge one day of archive storage per organisation and area, and the transfers not
    charged yet, at the prices the archive (``archive``, a provider in the price book)
    publishes. Running it again for a day charges nothing more.

    Args:
        day: the UTC day to charge storage for (yesterday by default). The bytes are those the
            buckets hold now.
        organisations: meter only these (their storage and transfers); default: every
            organisation with a bucket in the archive, and every transfer.
    """
    logger = get_run_logger()
    day = day or datetime.now(UTC).date() - timedelta(days=1)
    names = organisations if organisations is not None else archive_organisations(archive)
    metered: list[Metered] = []
    failed: dict[str, str] = {}
    for organisation in names:
        try:
            metered += meter_storage(database, archive, archive, organisation, day)
        except Exception as exc:  # one bucket that cannot be read must not stop the others
            logger.error("Could not meter the storage of %s on %s: %s", organisation, day, exc)
            failed[organisation] = str(exc)
    metered += meter_transfers(database, archive, organisations)
    rows = [_row(m) for m in metered] + [
        {**dict.fromkeys(COLUMNS, ""), "organisation": organisation,
         "what": f"storage {day.isoformat()}", "outcome": "failed", "note": reason}
        for organisation, reason in failed.items()]
    charged = [m for m in metered if m.outcome == "charged"]
    create_table_artifact(
        key="data-metering", table=rows or [{"outcome": "nothing to meter"}],
        description=f"Archive storage on {day.isoformat()} ({len(names)} organisation(s)) and "
                    f"transfers: {len(charged)} charge(s) made")
    if failed:
        raise MeteringError(f"could not meter the storage of {', '.join(sorted(failed))} on "
                            f"{day.isoformat()}", site="archive",
                            fix=f"fix the cause in the log, then run meter-data-usage again with "
                                f"day={day.isoformat()} (what was charged is not charged again)")
    return rows


def _row(metered: Metered) -> dict[str, str]:
    return {"organisation": metered.organisation, "project": metered.project or "",
            "user": metered.user, "what": metered.what, "bytes": str(metered.bytes),
            "quantity": f"{metered.quantity:.6f} {metered.unit}", "amount": str(metered.amount),
            "currency": metered.currency, "outcome": metered.outcome, "note": metered.note}


__all__ = ["METERING_CRON", "MeteringError", "meter_data_usage"]
