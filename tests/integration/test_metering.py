"""Metering against the test bed: a fresh organisation's bucket in the real S3 server, transfers in
the real transfer log, the meter-data-usage flow charging both through the PostgreSQL ledger."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from heroes.blocks import CentralArchive, HeroesDatabase
from heroes.flows import billing_report, meter_data_usage
from heroes_core.costs import Ledger
from heroes_core.costs.metering import METERING_USER, gb_months
from heroes_core.data import Area, TransferLog, TransferOutcome

pytestmark = pytest.mark.integration
GB = 10**9
STORED = {"ada/inputs/a.bin": 2_000_000, "projects/cfd/mesh.bin": 1_000_000,
          "_heroes/records/r.json": 5_000_000}


@pytest.fixture
def organisation(blocks: dict[str, str]) -> Iterator[str]:
    """A new organisation whose bucket holds a home, a project area and HEROES' own objects;
    the bucket is emptied and removed afterwards."""
    name = f"met-{uuid.uuid4().hex[:8]}"
    archive = CentralArchive.load("heroes-archive").archive()  # type: ignore[attr-defined]
    archive.ensure_area(Area.home(name, "ada"))
    archive.ensure_area(Area.project(name, "cfd"))
    bucket = archive.endpoint.bucket_for(name)
    for key, size in STORED.items():
        archive.minio.put_object(bucket, key, io.BytesIO(b"x" * size), size)
    yield name
    for item in archive.minio.list_objects(bucket, recursive=True):
        archive.minio.remove_object(bucket, item.object_name)
    archive.minio.remove_bucket(bucket)


def record_transfer(database: Any, organisation: str, outcome: TransferOutcome, size: int) -> int:
    now = datetime.now(UTC)
    return int(TransferLog(database).record(
        organisation=organisation, project="cfd", user="ada", what="mesh", source_site="archive",
        source=f"s3://heroes-{organisation}/projects/cfd/mesh.bin", destination_site="local-slurm",
        destination="/work/mesh.bin", started_at=now - timedelta(seconds=30), finished_at=now,
        outcome=outcome, bytes=size, job_key=f"job-{uuid.uuid4().hex[:6]}").id)


def test_storage_and_transfers_are_charged_once_through_the_ledger_and_billed(
        organisation: str, archive: Any) -> None:
    heroes_db = HeroesDatabase.load("heroes-database")  # type: ignore[attr-defined]
    database, budgets = heroes_db.database(), heroes_db.budgets()
    day = datetime.now(UTC).date()
    budget = budgets.create(organisation, Decimal("10"), "EUR", hard=True,
                            period_start=datetime.now(UTC) - timedelta(days=2))
    moved = record_transfer(database, organisation, TransferOutcome.SUCCEEDED, 3 * GB)
    record_transfer(database, organisation, TransferOutcome.FAILED, 7 * GB)

    rows = meter_data_usage(day=day, organisations=[organisation])

    assert sorted((r["what"], r["outcome"]) for r in rows) == [
        (f"storage ada {day}", "charged"), (f"storage projects/cfd {day}", "charged"),
        (f"transfer {moved}", "charged")]  # _heroes/ is HEROES' own; the failed transfer is free
    lines = Ledger(database).lines(organisation=organisation)
    micro = Decimal("0.000001")
    assert sorted(((line.unit, line.project, line.user, line.quantity, line.amount) for line in lines),
                  key=lambda found: (found[0], found[1] or "")) == [
        ("gb-month", None, "ada", gb_months(2_000_000, day).quantize(micro), Decimal("0.00")),
        ("gb-month", "cfd", METERING_USER, gb_months(1_000_000, day).quantize(micro), Decimal("0.00")),
        ("gb-transferred", "cfd", "ada", Decimal(3), Decimal("0.03")),  # 1 cent per GB
    ]
    assert {line.site for line in lines} == {"heroes-archive"}
    assert budgets.get(budget).committed == Decimal("0.03")

    again = meter_data_usage(day=day, organisations=[organisation])
    assert sorted(r["outcome"] for r in again) == ["already charged", "already charged"]
    assert len(Ledger(database).lines(organisation=organisation)) == 3
    assert budgets.get(budget).committed == Decimal("0.03")

    location = billing_report(organisation=organisation)
    bucket, key = location.removeprefix("s3://").split("/", 1)
    csv_lines = archive.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert csv_lines[0] == "charge,project,user,site,month,currency,amount,overage"
    assert sorted(line.split(",")[0] for line in csv_lines[1:]) == ["storage", "storage", "transfer"]
