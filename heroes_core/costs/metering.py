"""Metering: what an organisation stores in the archive and moves through it, charged through
the ledger like compute.

* **Storage.** Once a day, each area of an organisation's bucket (from
  :meth:`heroes_core.data.Archive.bucket_usage`) is charged for that UTC day at the archive's
  ``storage`` offering's ``per_gb_month`` price: a project's area (``projects/<p>``) to that
  project, a user's home to the organisation (no project) under the home's user. The quantity
  is in GB-months, GB = 10^9 bytes: ``bytes / 10^9 / days in that month``, so thirty days of
  a GB in a 30-day month are one GB-month. ``_heroes/`` holds HEROES' own objects (ledger
  exports, job records): not charged. Each (organisation, area, day) is charged once,
  under ``storage:<organisation>/<area>/<YYYY-MM-DD>``, at the price in force at the day's
  start (00:00 UTC); the bytes are those the bucket holds when it is metered, just after the
  day.
* **Transfers.** Each succeeded transfer (``data_transfers``) is charged its bytes at the
  ``transfer`` offering's ``per_gb_transferred`` price in force when it finished, once, under
  ``transfer:<id>``. A failed one costs nothing.

Neither has a reservation: :meth:`Budgets.charge_direct` charges the organisation's (and the
project's) budgets in force and writes the ledger lines in one transaction. The offerings are
the archive provider's (its id is the archive's name), found in the price book. Without a
price in force the meter says so and charges nothing: it never invents a price.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Final, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, exists, literal, select
from sqlalchemy import cast as sql_cast

from heroes_core.costs.budgets import Budgets, ChargeItem
from heroes_core.costs.ledger import Dimension, Ledger, LedgerLine
from heroes_core.costs.price_book import PriceNotFoundError
from heroes_core.costs.pricing import COMPONENTS, Usage
from heroes_core.costs.schema import CostLine
from heroes_core.data import HEROES_PREFIX, S3Endpoint, TransferOutcome, TransferRecord
from heroes_core.data.transfer_log import DataTransfer
from heroes_core.errors import SpecError
from heroes_core.models import NAME_PATTERN, ORGANISATION_PATTERN

GB: Final = Decimal(10) ** 9  # bytes in a GB (decimal, as storage is sold)
# Who project areas' storage is charged under: upper case, which Keycloak never gives a user name.
METERING_USER: Final = "HEROES-metering"
METERING_WORKFLOW: Final = "heroes-metering"  # the workflow of lines no workflow ran
STORAGE_OFFERING: Final = "archive"  # the archive provider's storage and transfer offerings
TRANSFER_OFFERING: Final = "archive"
OTHER_AREA: Final = "other"  # objects outside any area (none in a bucket HEROES wrote)

Outcome = Literal["charged", "already charged", "no price", "not charged"]
Charge = Literal["compute", "storage", "transfer"]
# What a billing view may group by: the ledger's dimensions and what a line charges for.
BILLING_DIMENSIONS: Final = (*get_args(Dimension), "charge")
_CHARGE_OF_UNIT: Final[dict[str, Charge]] = {COMPONENTS["per_gb_month"][0]: "storage",
                                             COMPONENTS["per_gb_transferred"][0]: "transfer"}


class Metered(BaseModel):
    """What the meter did with one area's day or one transfer."""

    model_config = ConfigDict(frozen=True)

    organisation: str
    project: str | None
    user: str
    what: str  # "storage projects/cfd 2026-03-01", "transfer 42"
    charge_ref: str
    bytes: int
    unit: str
    quantity: Decimal  # GB-months or GB
    outcome: Outcome
    amount: Decimal = Decimal(0)  # newly charged
    currency: str = ""
    note: str = ""


def charge_of(unit: str) -> Charge:
    """What a ledger line charges for, from its unit: storage, transfer, else compute."""
    return _CHARGE_OF_UNIT.get(unit, "compute")


def days_in_month(day: date) -> int:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return (following - date(day.year, day.month, 1)).days


def gb_months(size: int, day: date) -> Decimal:
    """One day's share of a month of ``size`` bytes, in GB-months (GB = 10^9 bytes)."""
    return Decimal(size) / GB / days_in_month(day)


def organisations_in(endpoint: S3Endpoint, buckets: Iterable[str]) -> list[str]:
    """The organisations whose bucket (``endpoint.bucket_template``) is among ``buckets``."""
    prefix, suffix = endpoint.bucket_template.split("{organisation}")
    found = set()
    for bucket in buckets:
        if not (bucket.startswith(prefix) and bucket.endswith(suffix)
                and len(bucket) > len(prefix) + len(suffix)):
            continue
        organisation = bucket[len(prefix):len(bucket) - len(suffix)]
        if re.fullmatch(ORGANISATION_PATTERN, organisation) \
                and endpoint.bucket_for(organisation) == bucket:
            found.add(organisation)
    return sorted(found)


def storage_areas(usage_by_prefix: Mapping[str, int]) -> list[tuple[str, str | None, str, int]]:
    """(area, project, user, bytes) to charge, from bytes per top-level prefix of a bucket.

    ``projects/<p>`` is project ``p``'s area; any other valid name is that user's home (charged
    under the user, to no project); ``_heroes`` is HEROES' own and left out. Bytes outside any
    area are gathered into ``other``, charged to the organisation; empty areas are left out.
    """
    areas: dict[tuple[str, str | None, str], int] = defaultdict(int)
    for prefix, size in usage_by_prefix.items():
        name = prefix.rstrip("/")
        if name == HEROES_PREFIX or size <= 0:
            continue
        project = name.removeprefix("projects/") if name.startswith("projects/") else None
        if project is not None and re.fullmatch(NAME_PATTERN, project):
            areas[(name, project, METERING_USER)] += size
        elif project is None and name != "projects" and re.fullmatch(NAME_PATTERN, name):
            areas[(name, None, name)] += size
        else:
            areas[(OTHER_AREA, None, METERING_USER)] += size
    return [(area, project, user, size) for (area, project, user), size in sorted(
        areas.items(), key=lambda item: item[0][0])]


class Metering:
    """Charges archive storage and transfers at the prices of the archive provider
    ``provider`` (an archive's name, e.g. ``heroes-archive``) through ``budgets``."""

    def __init__(self, budgets: Budgets, provider: str, *, storage: str = STORAGE_OFFERING,
                 transfer: str = TRANSFER_OFFERING) -> None:
        self.budgets = budgets
        self.provider = provider
        self.storage_offering = storage
        self.transfer_offering = transfer

    # -- storage ----------------------------------------------------------------------------

    def meter_storage(self, organisation: str, usage_by_prefix: Mapping[str, int],
                      day: date) -> list[Metered]:
        """Charge one UTC day of each of the organisation's areas (once per area and day)."""
        start = datetime.combine(day, time(0), tzinfo=UTC)
        found = self._offering("storage", self.storage_offering, "per_gb_month", start)
        results = []
        for area, project, user, size in storage_areas(usage_by_prefix):
            quantity = gb_months(size, day)
            charge_ref = f"storage:{organisation}/{area}/{day.isoformat()}"
            metered = Metered(organisation=organisation, project=project, user=user,
                              what=f"storage {area} {day.isoformat()}", charge_ref=charge_ref,
                              bytes=size, unit=COMPONENTS["per_gb_month"][0], quantity=quantity,
                              outcome="no price")
            if isinstance(found, str):
                results.append(metered.model_copy(update={"note": found}))
                continue
            results.append(self._charge(metered, found, Usage(uses=Decimal(0), gb_months=quantity),
                                        job_key=f"storage:{area}", workflow_id=METERING_WORKFLOW,
                                        incurred_at=start))
        return results

    # -- transfers --------------------------------------------------------------------------

    def meter_transfer(self, record: TransferRecord) -> Metered:
        """Charge one transfer's bytes, once; a failed or empty transfer costs nothing."""
        quantity = Decimal(record.bytes) / GB
        metered = Metered(organisation=record.organisation, project=record.project,
                          user=record.user, what=f"transfer {record.id}",
                          charge_ref=f"transfer:{record.id}", bytes=record.bytes,
                          unit=COMPONENTS["per_gb_transferred"][0], quantity=quantity,
                          outcome="not charged")
        if record.outcome is not TransferOutcome.SUCCEEDED:
            return metered.model_copy(update={"note": "a failed transfer costs nothing"})
        if record.bytes <= 0:
            return metered.model_copy(update={"note": "no bytes moved"})
        found = self._offering("transfer", self.transfer_offering, "per_gb_transferred",
                               record.finished_at)
        if isinstance(found, str):
            return metered.model_copy(update={"outcome": "no price", "note": found})
        return self._charge(metered, found, Usage(uses=Decimal(0), gb_transferred=quantity),
                            job_key=record.job_key or f"transfer:{record.id}",
                            workflow_id=record.flow_run_id or METERING_WORKFLOW,
                            incurred_at=record.finished_at)

    def unmetered_transfers(self, organisations: Sequence[str] | None = None, *,
                            limit: int = 10_000) -> list[TransferRecord]:
        """Succeeded transfers that moved bytes and have no ledger line yet, oldest first
        (only those of ``organisations`` if given)."""
        charge_ref = literal("transfer:", String) + sql_cast(DataTransfer.id, String)
        query = select(DataTransfer).where(
            DataTransfer.outcome == TransferOutcome.SUCCEEDED.value, DataTransfer.bytes > 0,
            ~exists().where(CostLine.charge_ref == charge_ref))
        if organisations is not None:
            query = query.where(DataTransfer.organisation.in_(list(organisations)))
        query = query.order_by(DataTransfer.finished_at, DataTransfer.id).limit(limit)
        with self.budgets.db.transaction() as session:
            return [TransferRecord.model_validate(row) for row in session.scalars(query)]

    # -- shared -----------------------------------------------------------------------------

    def _offering(self, kind: str, name: str, component: str, instant: datetime) -> int | str:
        """The offering's id if it has a ``component`` price at ``instant``; else why not."""
        what = f"{kind} '{name}' of '{self.provider}'"
        fix = (f"publish a {component} price for the {what} (PriceBook.publish) covering "
               f"{instant.isoformat()}")
        try:
            offering = self.budgets.prices.find_offering(self.provider, kind, name)
            _, model = self.budgets.prices.price_at(offering, instant)
        except PriceNotFoundError as exc:
            return f"not charged: {exc.detail}; to fix: {fix}"
        if not getattr(model, component):
            return f"not charged: the price of the {what} at {instant.isoformat()} has no " \
                   f"{component} part; to fix: {fix}"
        return offering

    def _charge(self, metered: Metered, offering: int, usage: Usage, *, job_key: str,
                workflow_id: str, incurred_at: datetime) -> Metered:
        lines = self.budgets.charge_direct(
            metered.charge_ref, organisation=metered.organisation, project=metered.project,
            user=metered.user, workflow_id=workflow_id, job_key=job_key,
            items=[ChargeItem(offering_id=offering, usage=usage, site=self.provider)],
            incurred_at=incurred_at)
        if not lines:
            return metered.model_copy(update={"outcome": "already charged"})
        return metered.model_copy(update={
            "outcome": "charged", "amount": sum((line.amount for line in lines), Decimal(0)),
            "currency": lines[0].currency})


def consolidate_by_charge(lines: Iterable[LedgerLine], by: Sequence[str]) -> list[dict[str, str]]:
    """:meth:`Ledger.consolidate`, where ``by`` may also name ``charge``: compute, storage or
    transfer (from each line's unit), so storage and transfers show beside compute."""
    unknown = [d for d in by if d not in BILLING_DIMENSIONS]
    if unknown:
        raise SpecError(f"cannot group by {unknown}", fix=f"choose from {sorted(BILLING_DIMENSIONS)}")
    dimensions = cast("list[Dimension]", [d for d in by if d != "charge"])
    if len(dimensions) == len(by):
        return Ledger.consolidate(lines, dimensions)
    groups: dict[Charge, list[LedgerLine]] = defaultdict(list)
    for line in lines:
        groups[charge_of(line.unit)].append(line)
    columns = [*by, "currency", "amount", "overage"]
    rows = [{column: charge if column == "charge" else row[column] for column in columns}
            for charge, grouped in groups.items() for row in Ledger.consolidate(grouped, dimensions)]
    return sorted(rows, key=lambda row: tuple(row[column] for column in [*by, "currency"]))


__all__ = [
    "BILLING_DIMENSIONS",
    "GB",
    "METERING_USER",
    "METERING_WORKFLOW",
    "Metered",
    "Metering",
    "charge_of",
    "consolidate_by_charge",
    "days_in_month",
    "gb_months",
    "organisations_in",
    "storage_areas",
]
