"""Performance metadata store: upsert, queries, sacct usage parsing, energy provenance, accuracy, schema."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect

from heroes_core.decision.metadata import JobMetadata, MetadataStore, usage_summary
from heroes_core.energy import PowerModel, energy_provenance
from heroes_core.errors import SchedulerError, SpecError
from heroes_core.models import JobState
from heroes_core.schedulers._slurm_accounting import (
    SACCT_USAGE_FIELDS,
    parse_memory_mb,
    parse_sacct_usage,
    sacct_usage_argv,
)
from heroes_core.store import Database

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def rec(job_key: str = "wf1-job1", **overrides: Any) -> JobMetadata:
    values: dict[str, Any] = dict(
        job_key=job_key, workflow_id="wf1", organisation="acme", user="alice", application="gromacs",
        parameters={"steps": 1000}, size=100.0, site="meluxina", partition="cpu", cores=16, nodes=1,
        requested_time_s=3600, used_time_s=1200, queue_wait_s=30, max_memory_mb=2048,
        submitted_at=T0, started_at=T0 + timedelta(seconds=30),
        ended_at=T0 + timedelta(seconds=1230))
    values.update(overrides)
    return JobMetadata(**values)


# -- schema -------------------------------------------------------------------------------------


def test_the_store_migrations_create_the_history_table(database: Database) -> None:
    assert "job_records" in inspect(database.engine).get_table_names()


# -- upsert and queries -------------------------------------------------------------------------


def test_recording_twice_updates_the_one_row(store: MetadataStore) -> None:
    first = store.record(rec(used_time_s=1200, outcome="RUNNING", predicted_time_s=1000))
    second = store.record(rec(used_time_s=1500, outcome="completed", energy_j=5e5, energy_source="slurm",
                              cost=Decimal("1.25"), currency="EUR"))
    assert first == second
    assert store.count("gromacs", "meluxina") == 1
    [row] = store.records("gromacs")
    assert row.used_time_s == 1500
    assert row.outcome == "COMPLETED"
    assert row.energy_source == "slurm" and row.energy_j == 5e5
    assert row.cost == Decimal("1.25") and row.currency == "EUR"
    assert row.predicted_time_s == 1000  # the submission-time prediction survives the final record
    assert row.parameters == {"steps": 1000}
    assert row.submitted_at == T0 and row.submitted_at.tzinfo is not None
    store.record(rec(predicted_time_s=1400))
    assert store.get("wf1-job1").predicted_time_s == 1400  # a new prediction replaces the old
    assert store.get("nope") is None


def test_queries_by_application_site_and_since(store: MetadataStore) -> None:
    store.record(rec("a", submitted_at=T0))
    store.record(rec("b", submitted_at=T0 + timedelta(days=2)))
    store.record(rec("c", site="lumi", submitted_at=T0 + timedelta(days=1)))
    store.record(rec("d", application="openfoam"))
    store.record(rec("e", outcome="FAILED", submitted_at=T0 + timedelta(days=3)))
    assert [r.job_key for r in store.records("gromacs")] == ["a", "c", "b", "e"]
    assert [r.job_key for r in store.records("gromacs", site="meluxina")] == ["a", "b", "e"]
    assert [r.job_key for r in store.records("gromacs", since=T0 + timedelta(days=1))] == ["c", "b", "e"]
    assert [r.job_key for r in store.records("gromacs", "meluxina", outcome="COMPLETED")] == ["a", "b"]
    assert store.count("gromacs", "meluxina") == 3
    assert store.count("gromacs", "meluxina", outcome="COMPLETED") == 2
    assert store.count("gromacs", "nowhere") == 0


def test_fingerprint_changes_on_insert_and_update(store: MetadataStore) -> None:
    assert store.fingerprint("gromacs", "meluxina") == (0, None)
    store.record(rec("a"), now=T0)
    one = store.fingerprint("gromacs", "meluxina")
    assert one == (1, T0)
    store.record(rec("a", used_time_s=99), now=T0 + timedelta(minutes=1))
    assert store.fingerprint("gromacs", "meluxina") == (1, T0 + timedelta(minutes=1))


def test_input_validation() -> None:
    with pytest.raises(ValidationError, match="naive"):
        rec(submitted_at=datetime(2025, 1, 1))
    with pytest.raises(ValidationError, match="outcome"):
        rec(outcome="EXPLODED")
    with pytest.raises(ValidationError, match="energy_source\n  Input should be"):
        rec(energy_source="guess")
    with pytest.raises(ValidationError, match="unknown_field\n  Extra inputs are not permitted"):
        rec(unknown_field=1)


# -- sacct --------------------------------------------------------------------------------------

# job + batch + extern + one srun step, as Slurm 22.05 prints it (MaxRSS only on steps,
# energy 0 without an AcctGatherEnergy plugin, allocation energy empty)
SACCT_NO_ENERGY = """\
4242|754|32|2|billing=32,cpu=32,gres/gpu=4,mem=64G,node=2|||2025-03-01T12:00:00|2025-03-01T12:01:40|2025-03-01T12:14:14|COMPLETED|0:0
4242.batch|754|16|1|cpu=16,mem=32G,node=1|812340K|0|2025-03-01T12:01:40|2025-03-01T12:01:40|2025-03-01T12:14:14|COMPLETED|0:0
4242.extern|754|32|2|billing=32,cpu=32,gres/gpu=4,mem=64G,node=2|1.50M|0|2025-03-01T12:01:40|2025-03-01T12:01:40|2025-03-01T12:14:14|COMPLETED|0:0
4242.0|700|32|2|cpu=32,gres/gpu:a100=4,mem=64G,node=2|3.25G|0|2025-03-01T12:02:00|2025-03-01T12:02:00|2025-03-01T12:13:40|COMPLETED|0:0
"""

SACCT_WITH_ENERGY = """\
77|3600|8|1|billing=8,cpu=8,mem=16G,node=1||1234567|2025-03-01T10:00:00|2025-03-01T10:00:00|2025-03-01T11:00:00|FAILED|1:0
77.batch|3600|8|1|cpu=8,mem=16G,node=1|2G|1200000|2025-03-01T10:00:00|2025-03-01T10:00:00|2025-03-01T11:00:00|FAILED|1:0
77.extern|3600|8|1|billing=8,cpu=8,mem=16G,node=1|0|1234000|2025-03-01T10:00:00|2025-03-01T10:00:00|2025-03-01T11:00:00|COMPLETED|0:0
"""


def test_sacct_usage_fields_and_argv() -> None:
    assert SACCT_USAGE_FIELDS.split(",")[:2] == ["JobIDRaw", "ElapsedRaw"]
    argv = sacct_usage_argv("4242")
    assert argv[:7] == ["env", "SLURM_TIME_FORMAT=%s", "sacct", "--parsable2", "--noheader", "-j",
                        "4242"]
    assert argv[7] == f"--format={SACCT_USAGE_FIELDS}"
    with pytest.raises(SpecError):
        sacct_usage_argv("1;rm -rf /")


def test_parse_sacct_multi_step_without_energy_plugin() -> None:
    usage = parse_sacct_usage(SACCT_NO_ENERGY)
    assert usage.job_id == "4242"
    assert usage.elapsed_s == 754
    assert (usage.cores, usage.nodes, usage.gpus) == (32, 2, 4)
    assert usage.max_memory_mb == pytest.approx(3.25 * 1024)  # max over steps, G suffix
    assert usage.energy_j is None and usage.energy_source == "none"
    assert usage.outcome is JobState.COMPLETED and usage.exit_code == 0
    assert usage.submitted_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert usage.queue_wait_s == 100
    assert usage.ended_at == datetime(2025, 3, 1, 12, 14, 14, tzinfo=UTC)


def test_parse_sacct_with_energy_plugin_and_site_time_zone() -> None:
    cet = timezone(timedelta(hours=1))
    usage = parse_sacct_usage(SACCT_WITH_ENERGY, tz=cet)
    assert usage.energy_j == 1234567 and usage.energy_source == "slurm"
    assert usage.max_memory_mb == 2048
    assert usage.outcome is JobState.FAILED and usage.exit_code == 1
    assert usage.submitted_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    # allocation energy empty: the largest step figure is used (steps overlap; no double count)
    steps_only = SACCT_WITH_ENERGY.replace("|1234567|", "||", 1)
    assert parse_sacct_usage(steps_only).energy_j == 1234000


def test_parse_sacct_reads_epoch_times_as_instants_whatever_the_zone() -> None:
    start = int(datetime(2025, 3, 1, 12, 1, 40, tzinfo=UTC).timestamp())
    epoch = SACCT_NO_ENERGY.replace("2025-03-01T12:01:40", str(start)).replace(
        "2025-03-01T12:00:00", str(start - 100)).replace("2025-03-01T12:14:14", str(start + 754))
    usage = parse_sacct_usage(epoch, tz=timezone(timedelta(hours=14)))
    assert usage.submitted_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert usage.started_at == datetime(2025, 3, 1, 12, 1, 40, tzinfo=UTC)
    assert usage.ended_at == datetime(2025, 3, 1, 12, 14, 14, tzinfo=UTC)


def test_parse_sacct_rejects_empty_and_mixed_output() -> None:
    with pytest.raises(SchedulerError, match="no job allocation line"):
        parse_sacct_usage("")
    with pytest.raises(SchedulerError, match="query one job"):
        parse_sacct_usage(SACCT_NO_ENERGY + SACCT_WITH_ENERGY)


def test_parse_memory_units() -> None:
    assert parse_memory_mb("4012K") == pytest.approx(4012 / 1024)
    assert parse_memory_mb("2048M") == 2048
    assert parse_memory_mb("1.5G") == 1536
    assert parse_memory_mb("1048576") == 1  # bare number: bytes
    assert parse_memory_mb("0") == 0
    assert parse_memory_mb("") is None


def test_energy_provenance_order() -> None:
    def figure(**given: float | None) -> tuple[float | None, str]:
        found = energy_provenance(**given)
        return found.energy_j, found.source
    assert figure(ear_energy_j=10, slurm_energy_j=20, modelled_energy_j=30) == (10, "ear")
    assert figure(ear_energy_j=None, slurm_energy_j=20, modelled_energy_j=30) == (20, "slurm")
    assert figure(slurm_energy_j=0, modelled_energy_j=30) == (30, "model")
    assert figure(slurm_energy_j=0) == (None, "none")


def test_record_from_usage(store: MetadataStore) -> None:
    usage = parse_sacct_usage(SACCT_NO_ENERGY)
    base = dict(job_key="k1", workflow_id="wf", organisation="acme", user="bob", application="lammps",
                site="meluxina", requested_time_s=1800)
    record = JobMetadata.from_usage(usage, **base)
    assert record.energy_source == "none" and record.energy_j is None
    assert (record.cores, record.gpus, record.used_time_s, record.queue_wait_s) == (32, 4, 754, 100)
    power = PowerModel(idle_watts_per_node=0, watts_per_core=10, watts_per_gpu=100)
    modelled = JobMetadata.from_usage(usage, power=power, **base)
    assert modelled.energy_source == "model" and modelled.energy_j == 754 * (32 * 10 + 4 * 100)
    ear = JobMetadata.from_usage(usage, ear_energy_j=5e5, power=power, **base)
    assert ear.energy_source == "ear" and ear.energy_j == 5e5
    store.record(ear)
    assert store.get("k1").energy_source == "ear"


# -- accuracy (dashboard) -----------------------------------------------------------------------


def test_accuracy_by_site_and_application(store: MetadataStore) -> None:
    store.record(rec("1", site="s1", used_time_s=100, predicted_time_s=50,
                     cost=Decimal("2"), predicted_cost=Decimal("1"), currency="EUR"))
    store.record(rec("2", site="s1", used_time_s=300, predicted_time_s=300,
                     energy_j=1000, energy_source="slurm", predicted_energy_j=500))
    store.record(rec("3", site="s2", application="openfoam", used_time_s=100, predicted_time_s=200))
    store.record(rec("4", site="s2", used_time_s=80))  # no prediction: counted in jobs only
    store.record(rec("5", site="s2", used_time_s=10, predicted_time_s=1000, outcome="FAILED"))  # ignored

    by_site = store.accuracy(by="site")
    assert [r["site"] for r in by_site] == ["s1", "s2"]
    s1, s2 = by_site
    assert s1["jobs"] == 2 and s1["count"] == 2
    assert s1["mae_time_s"] == pytest.approx(25)  # (50 + 0) / 2
    assert s1["mean_ratio_time"] == pytest.approx(1.5)  # (2 + 1) / 2
    assert s1["cost_count"] == 1 and s1["mae_cost"] == pytest.approx(1) and s1["mean_ratio_cost"] == 2
    assert s1["energy_count"] == 1 and s1["mae_energy_j"] == 500 and s1["mean_ratio_energy"] == 2
    assert s2["jobs"] == 2 and s2["count"] == 1
    assert s2["mae_time_s"] == 100 and s2["mean_ratio_time"] == pytest.approx(0.5)
    assert s2["cost_count"] == 0 and s2["mae_cost"] is None and s2["mean_ratio_cost"] is None

    by_app = {r["application"]: r for r in store.accuracy(by="application")}
    assert by_app["gromacs"]["count"] == 2 and by_app["gromacs"]["jobs"] == 3
    assert by_app["openfoam"]["mean_ratio_time"] == pytest.approx(0.5)

    everything = {r["site"]: r for r in store.accuracy(by="site", outcome=None)}
    assert everything["s2"]["count"] == 2
    with pytest.raises(SpecError):
        store.accuracy(by="user")  # type: ignore[arg-type]


def test_job_cancelled_while_pending_is_recordable(store: MetadataStore) -> None:
    out = "99|0|0|0|billing=1,cpu=1,node=1|||2025-03-01T10:00:00|None|2025-03-01T10:05:00|CANCELLED by 1000|0:0\n"
    usage = parse_sacct_usage(out)
    assert usage.outcome is JobState.CANCELLED and usage.started_at is None and usage.queue_wait_s is None
    record = JobMetadata.from_usage(usage, job_key="k9", workflow_id="wf", organisation="acme", user="bob",
                                    application="lammps", site="meluxina", requested_time_s=60)
    store.record(record)
    assert store.get("k9").outcome == "CANCELLED"


# -- accounting: predictions beside records, usage summaries ------------------------------------


def test_a_prediction_joins_the_record_its_job_made_and_a_job_never_accounted_is_said(store: MetadataStore) -> None:
    store.record(rec("k1", size=None, cost=D("1.50"), currency="USD"))
    assert store.add_prediction("k1", size=7.0, predicted_time_s=1000.0, predicted_energy_j=5e4,
                                predicted_cost=D("1.20"), cost=D("1.35"), currency="EUR")
    row = store.get("k1")
    assert row is not None
    assert (row.size, row.predicted_time_s, row.predicted_energy_j, row.predicted_cost) == (7.0, 1000.0, 5e4, D("1.2"))
    assert (row.cost, row.currency, row.used_time_s) == (D("1.35"), "EUR", 1200)
    assert not store.add_prediction("never", size=None, predicted_time_s=1.0, predicted_energy_j=None,
                                    predicted_cost=None, cost=None, currency=None)


def test_an_organisations_usage_summary_counts_its_own_jobs_per_day_and_application(store: MetadataStore) -> None:
    day2 = T0 + timedelta(days=1)
    store.record(rec("a1", energy_j=3.6e6, energy_source="slurm"))  # 16 cores x 1200 s
    store.record(rec("a2", submitted_at=day2, application_version="2.0", energy_j=1.8e6, energy_source="model",
                     outcome="FAILED"))
    store.record(rec("a3", submitted_at=day2, application="cfd", cores=4))
    store.record(rec("b1", organisation="umbrella", energy_j=9e9, energy_source="ear"))
    summary = usage_summary(store, "acme", since=T0, until=T0 + timedelta(days=2))
    first, second = summary.days
    assert (first["day"], first["jobs"], first["completed"]) == (T0.date().isoformat(), 1, 1)
    assert first["core_hours"] == pytest.approx(16 * 1200 / 3600)
    assert (first["measured_kj"], first["modelled_kj"]) == (3600.0, 0.0)
    assert (second["jobs"], second["completed"], second["modelled_kj"], second["energy_unknown"]) == (2, 1, 1800.0, 1)
    assert [a["application"] for a in summary.applications] == ["gromacs", "gromacs 2.0", "cfd"]  # by use
    assert all(day["energy_kj"] < 9e6 for day in summary.days)  # umbrella's job is not acme's


def test_an_organisations_usage_summary_compares_only_its_own_predictions_with_what_its_jobs_used(
        store: MetadataStore) -> None:
    store.record(rec("a1", predicted_time_s=600.0, energy_j=2e4, energy_source="slurm", predicted_energy_j=1e4))
    store.record(rec("a2", application="cfd"))  # never predicted: not in the comparison
    store.record(rec("b1", organisation="umbrella", predicted_time_s=100.0))
    [row] = usage_summary(store, "acme", since=T0, until=T0 + timedelta(days=1)).accuracy
    assert (row["application"], row["jobs"], row["count"]) == ("gromacs", 1, 1)
    assert row["mean_ratio_time"] == pytest.approx(1200 / 600)
    assert row["mean_ratio_energy"] == pytest.approx(2.0)
    [other] = usage_summary(store, "umbrella", since=T0, until=T0 + timedelta(days=1)).accuracy
    assert other["mean_ratio_time"] == pytest.approx(1200 / 100)


def test_a_stored_record_logs_its_figures_as_numbers_for_the_dashboards(store: MetadataStore) -> None:
    store.record(rec("k9", cost=D("0.25"), currency="EUR", energy_j=5e4, energy_source="slurm",
                     predicted_cost=D("0.30"), exit_code=0))
    stored = store.get("k9")
    assert stored is not None
    fields = stored.accounting_fields()
    assert (fields.application, fields.state, fields.energy_source, fields.exit_code) == (
        "gromacs", "COMPLETED", "slurm", 0)
    assert (fields.cost, fields.predicted_cost, fields.energy_j) == (0.25, 0.3, 5e4)
    assert fields.core_hours == pytest.approx(16 * 1200 / 3600)
