"""The transfers' records: one row each, read back by organisation and narrowed by filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from heroes_core.data import TransferLog, TransferOutcome
from heroes_core.store import Database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(log: TransferLog, minutes: int, **fields: object) -> None:
    values: dict[str, object] = {
        "organisation": "acme", "user": "ann", "what": "whole directory", "source_site": "archive",
        "source": "s3://heroes-acme/ann/", "destination_site": "hpc1",
        "destination": "hpc1:/scratch/ann/job", "started_at": T0 + timedelta(minutes=minutes),
        "finished_at": T0 + timedelta(minutes=minutes, seconds=90),
        "outcome": TransferOutcome.SUCCEEDED, "bytes": 1000, "files": 2, "files_checked": 3}
    values.update(fields)
    log.record(**values)  # type: ignore[arg-type]


def test_rows_come_back_newest_first_with_their_duration(database: Database) -> None:
    log = TransferLog(database)
    record(log, 0, job_key="k1", flow_run_id="run-1", project="cfd")
    record(log, 5, outcome=TransferOutcome.FAILED, error="[hpc1] boom", bytes=10)
    newest, oldest = log.list(organisation="acme")
    assert newest.outcome is TransferOutcome.FAILED and newest.error == "[hpc1] boom"
    assert (oldest.job_key, oldest.flow_run_id, oldest.project) == ("k1", "run-1", "cfd")
    assert oldest.duration_s == 90.0 and oldest.started_at == T0
    assert oldest.started_at.tzinfo is not None


def test_filters_narrow_and_organisations_never_mix(database: Database) -> None:
    log = TransferLog(database)
    record(log, 0, job_key="k1")
    record(log, 1, user="bob", destination_site="hpc2", destination="hpc2:/x")
    record(log, 2, outcome=TransferOutcome.FAILED, project="cfd")
    record(log, 3, organisation="umbrella")
    assert len(log.list(organisation="acme")) == 3
    assert [r.user for r in log.list(organisation="acme", user="bob")] == ["bob"]
    assert [r.job_key for r in log.list(organisation="acme", job_key="k1")] == ["k1"]
    assert len(log.list(organisation="acme", site="hpc2")) == 1
    assert len(log.list(organisation="acme", site="archive")) == 3  # either end
    assert len(log.list(organisation="acme", outcome=TransferOutcome.FAILED, project="cfd")) == 1
    assert len(log.list(organisation="acme", since=T0 + timedelta(minutes=1))) == 2
    assert len(log.list(organisation="acme", limit=1)) == 1
    assert [r.organisation for r in log.list(organisation="umbrella")] == ["umbrella"]


def test_long_texts_are_cut_never_refused(database: Database) -> None:
    log = TransferLog(database)
    record(log, 0, what="x" * 2000, error="e" * 50_000, outcome=TransferOutcome.FAILED)
    (row,) = log.list(organisation="acme")
    assert len(row.what) == 500 and row.what.endswith("...")
    assert row.error is not None and len(row.error) == 20_000
