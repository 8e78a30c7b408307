"""The accounting record: one row per job HEROES ran, whichever flow ran it, with what it asked
for, used, consumed and cost.

The rows live in the project database next to the costs tables (same ``Base``,
same Alembic history, migrations ``0002`` and ``0010``). They feed the predictor
(:mod:`heroes_core.decision.predict`), the organisations' usage summaries
(:meth:`MetadataStore.usage_summary`) and the administrators' performance
dashboard (:meth:`MetadataStore.accuracy`: predictions against actual runs).

Usage comes from the scheduler's accounting (:meth:`Scheduler.usage`), joined with the
HEROES context (organisation, project, user, workflow, application and version, site,
partition). Energy has a provenance, in the design's order of trust: EAR > the Slurm
energy plugin > the partition's declared power model (:mod:`heroes_core.energy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import (
    JSON,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.energy import EnergySource, PowerModel, energy_provenance
from heroes_core.errors import SpecError
from heroes_core.logs import AccountingFields
from heroes_core.models import JobState
from heroes_core.schedulers import UsageRecord
from heroes_core.store import Base, Database, UTCDateTime

# -- table ------------------------------------------------------------------------------------


class JobMetadataRow(Base):
    """One job HEROES ran: request, usage, energy (with its provenance), cost and prediction."""

    __tablename__ = "job_records"
    __table_args__ = (Index("ix_job_records_application_site", "application", "site", "submitted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_key: Mapped[str] = mapped_column(String(100), unique=True)
    workflow_id: Mapped[str] = mapped_column(String(100), index=True)
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user: Mapped[str] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    application: Mapped[str] = mapped_column(String(200))
    application_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scheduler_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    size: Mapped[float | None] = mapped_column(Float, nullable=True)
    site: Mapped[str] = mapped_column(String(100))
    partition: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cores: Mapped[int] = mapped_column(Integer)
    nodes: Mapped[int] = mapped_column(Integer)
    gpus: Mapped[int] = mapped_column(Integer)
    requested_time_s: Mapped[float] = mapped_column(Float)
    used_time_s: Mapped[float] = mapped_column(Float)
    queue_wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    energy_j: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy_source: Mapped[str] = mapped_column(String(8))  # "ear" | "slurm" | "model" | "none"
    energy_policy: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 6), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # a JobState value
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    predicted_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    predicted_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 6), nullable=True)
    predicted_energy_j: Mapped[float | None] = mapped_column(Float, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- what callers pass ------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give aware (UTC) times")
    return value


class JobMetadata(BaseModel):
    """A finished (or given-up) job as the caller knows it; recorded with :meth:`MetadataStore.record`.

    Recording the same ``job_key`` again replaces the row, except that a stored
    prediction is kept when the new record carries none (the prediction is
    usually known at submission, the usage only at the end).
    """

    model_config = ConfigDict(extra="forbid")

    job_key: str = Field(min_length=1, max_length=100)
    workflow_id: str = Field(max_length=100)
    organisation: str = Field(max_length=64)
    project: str | None = Field(default=None, max_length=64)
    user: str = Field(max_length=64)
    step: str | None = Field(default=None, max_length=64, description="The job's id in its workflow.")
    application: str = Field(min_length=1, max_length=200)
    application_version: str | None = Field(default=None, max_length=64)
    scheduler_job_id: str | None = Field(default=None, max_length=32)
    parameters: dict[str, Any] = Field(default_factory=dict)
    size: float | None = Field(default=None, gt=0, description="User-given problem size feature.")
    site: str = Field(min_length=1, max_length=100)
    partition: str | None = Field(default=None, max_length=100)
    cores: int = Field(default=1, ge=0, description="0 when the job never got an allocation.")
    nodes: int = Field(default=1, ge=0, description="0 when the job never got an allocation.")
    gpus: int = Field(default=0, ge=0)
    requested_time_s: float = Field(ge=0)
    used_time_s: float = Field(ge=0)
    queue_wait_s: float | None = Field(default=None, ge=0)
    max_memory_mb: float | None = Field(default=None, ge=0)
    cpu_time_s: float | None = Field(default=None, ge=0)
    exit_code: int | None = None
    energy_j: float | None = Field(default=None, ge=0)
    energy_source: EnergySource = "none"
    energy_policy: str | None = Field(default=None, max_length=32, description="The EAR policy it ran under.")
    cost: Decimal | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    outcome: str = JobState.COMPLETED.value
    submitted_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    predicted_time_s: float | None = Field(default=None, ge=0)
    predicted_cost: Decimal | None = None
    predicted_energy_j: float | None = Field(default=None, ge=0)

    @field_validator("submitted_at", "started_at", "ended_at")
    @classmethod
    def _aware_times(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @field_validator("outcome")
    @classmethod
    def _outcome(cls, value: str) -> str:
        try:
            return JobState(value.upper()).value
        except ValueError:
            raise ValueError(f"outcome {value!r} is not one of {[s.value for s in JobState]}") from None

    @classmethod
    def from_usage(cls, usage: UsageRecord, *, ear_energy_j: float | None = None,
                   power: PowerModel | None = None, **fields: Any) -> JobMetadata:
        """A record from parsed scheduler accounting plus the fields only HEROES knows.

        Energy follows :func:`~heroes_core.energy.energy_provenance`: EAR's figure if given,
        else the Slurm plugin's, else the partition's declared ``power`` model's (none declared:
        unknown, "none").
        """
        modelled = (power.energy_j(seconds=usage.elapsed_s, nodes=usage.nodes, cores=usage.cores,
                                   gpus=usage.gpus) if power is not None else None)
        energy = energy_provenance(ear_energy_j=ear_energy_j, slurm_energy_j=usage.energy_j,
                                   modelled_energy_j=modelled)
        values: dict[str, Any] = {
            "cores": usage.cores, "nodes": usage.nodes, "gpus": usage.gpus,
            "used_time_s": usage.elapsed_s, "queue_wait_s": usage.queue_wait_s,
            "max_memory_mb": usage.max_memory_mb, "cpu_time_s": usage.cpu_time_s,
            "exit_code": usage.exit_code, "scheduler_job_id": usage.job_id,
            "energy_j": energy.energy_j, "energy_source": energy.source,
            "outcome": usage.outcome.value, "submitted_at": usage.submitted_at,
            "started_at": usage.started_at, "ended_at": usage.ended_at,
        }
        values.update(fields)
        return cls(**values)


class StoredJobMetadata(JobMetadata):
    """A row of ``job_records`` as read back."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, frozen=True)

    id: int
    recorded_at: datetime

    def accounting_fields(self) -> AccountingFields:
        """The record as its log record carries it (``heroes.job``), for the search store's dashboards."""
        def number(value: Decimal | None) -> float | None:
            return None if value is None else float(value)
        return AccountingFields(
            application=self.application, application_version=self.application_version,
            partition=self.partition, state=self.outcome, exit_code=self.exit_code, cores=self.cores,
            nodes=self.nodes, gpus=self.gpus, used_time_s=self.used_time_s, cpu_time_s=self.cpu_time_s,
            queue_wait_s=self.queue_wait_s, core_hours=self.used_time_s * self.cores / 3600.0,
            max_memory_mb=self.max_memory_mb, energy_j=self.energy_j, energy_source=self.energy_source,
            energy_policy=self.energy_policy, cost=number(self.cost), currency=self.currency,
            predicted_time_s=self.predicted_time_s, predicted_energy_j=self.predicted_energy_j,
            predicted_cost=number(self.predicted_cost))


# -- the store --------------------------------------------------------------------------------

_KEEP_IF_NULL = ("predicted_time_s", "predicted_cost", "predicted_energy_j")
AccuracyBy = Literal["site", "application"]


class MetadataStore:
    """Job records in the project :class:`~heroes_core.store.Database`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, rec: JobMetadata, *, now: datetime | None = None) -> int:
        """Insert or update (by ``job_key``) one job; returns the row id.

        One ``INSERT ... ON CONFLICT (job_key) DO UPDATE`` statement, so two
        concurrent recordings of one job cannot create two rows on either dialect.
        """
        values = rec.model_dump()
        values["recorded_at"] = _aware(now) or datetime.now(UTC)
        table = JobMetadataRow.__table__
        insert = pg_insert if self.database.is_postgres else sqlite_insert
        stmt = insert(JobMetadataRow).values(**values)
        updates: dict[str, Any] = {}
        for name in values:
            if name == "job_key":
                continue
            if name in _KEEP_IF_NULL:
                updates[name] = func.coalesce(stmt.excluded[name], table.c[name])
            else:
                updates[name] = stmt.excluded[name]
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.job_key], set_=updates)
        with self.database.transaction() as session:
            session.execute(stmt)
            query = select(JobMetadataRow.id).where(JobMetadataRow.job_key == rec.job_key)
            row_id: int = session.execute(query).scalar_one()
        return row_id

    def add_prediction(self, job_key: str, *, size: float | None, predicted_time_s: float | None,
                       predicted_energy_j: float | None, predicted_cost: Decimal | None,
                       cost: Decimal | None, currency: str | None) -> bool:
        """Put what the planner predicted beside a job's accounting (and its cost in the predicted
        currency, so the two compare); False when the job was never accounted."""
        values: dict[str, Any] = {"size": size, "predicted_time_s": predicted_time_s,
                                  "predicted_energy_j": predicted_energy_j, "predicted_cost": predicted_cost}
        if cost is not None:
            values |= {"cost": cost, "currency": currency}
        with self.database.transaction() as session:
            row = session.execute(select(JobMetadataRow).where(JobMetadataRow.job_key == job_key)
                                  .with_for_update()).scalar_one_or_none()
            if row is None:
                return False
            for name, value in values.items():
                setattr(row, name, value)
            row.recorded_at = datetime.now(UTC)
        return True

    def get(self, job_key: str) -> StoredJobMetadata | None:
        with self.database.transaction() as session:
            query = select(JobMetadataRow).where(JobMetadataRow.job_key == job_key)
            row = session.execute(query).scalar_one_or_none()
            return None if row is None else StoredJobMetadata.model_validate(row)

    def records(self, application: str, site: str | None = None, since: datetime | None = None,
                *, outcome: str | None = None) -> list[StoredJobMetadata]:
        """Records of ``application`` (on ``site``; submitted at or after ``since``), oldest first."""
        query = select(JobMetadataRow).where(JobMetadataRow.application == application)
        if site is not None:
            query = query.where(JobMetadataRow.site == site)
        if since is not None:
            query = query.where(JobMetadataRow.submitted_at >= _aware(since))
        if outcome is not None:
            query = query.where(JobMetadataRow.outcome == outcome)
        query = query.order_by(JobMetadataRow.submitted_at, JobMetadataRow.id)
        with self.database.transaction() as session:
            return [StoredJobMetadata.model_validate(row) for row in session.execute(query).scalars()]

    def count(self, application: str, site: str, *, outcome: str | None = None) -> int:
        query = select(func.count(JobMetadataRow.id)).where(JobMetadataRow.application == application,
                                                       JobMetadataRow.site == site)
        if outcome is not None:
            query = query.where(JobMetadataRow.outcome == outcome)
        with self.database.transaction() as session:
            return int(session.execute(query).scalar_one())

    def fingerprint(self, application: str, site: str) -> tuple[int, datetime | None]:
        """(number of records, latest recording time): changes whenever a record is added or updated."""
        query = select(func.count(JobMetadataRow.id), func.max(JobMetadataRow.recorded_at)).where(
            JobMetadataRow.application == application, JobMetadataRow.site == site)
        with self.database.transaction() as session:
            count, latest = session.execute(query).one()
        if isinstance(latest, str):  # SQLite loses the column type under max()
            latest = datetime.fromisoformat(latest)
        if isinstance(latest, datetime) and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        return int(count), latest

    def accuracy(self, by: AccuracyBy = "site", *, outcome: str | None = JobState.COMPLETED.value,
                 since: datetime | None = None, until: datetime | None = None,
                 organisation: str | None = None) -> list[dict[str, Any]]:
        """Predicted vs actual, per site or per application, for the performance dashboard.

        Each row: the group (``site`` or ``application``), ``jobs`` (records in the
        group), and for runtime, cost and energy the number of records with both a
        prediction and an actual value (``count`` for runtime, ``cost_count``,
        ``energy_count``), the mean absolute error (``mae_time_s``, ``mae_cost``,
        ``mae_energy_j``) and the mean ratio actual/predicted (``mean_ratio_time``,
        ...; over positive predictions only; > 1 means runs take more than predicted).
        Costs are compared as recorded, in the record's currency. Only ``outcome``
        records count (default COMPLETED: a failed run says little about a prediction).
        ``organisation`` keeps one organisation's records, for its managers' own summary.
        """
        if by not in ("site", "application"):
            raise SpecError(f"accuracy by {by!r}: choose 'site' or 'application'")
        group = JobMetadataRow.site if by == "site" else JobMetadataRow.application
        metrics: Sequence[tuple[str, Any, Any]] = (
            ("time", JobMetadataRow.used_time_s, JobMetadataRow.predicted_time_s),
            ("cost", cast(JobMetadataRow.cost, Float), cast(JobMetadataRow.predicted_cost, Float)),
            ("energy", JobMetadataRow.energy_j, JobMetadataRow.predicted_energy_j),
        )
        columns: list[Any] = [group, func.count(JobMetadataRow.id)]
        for _name, actual, predicted in metrics:
            both = actual.is_not(None) & predicted.is_not(None)
            columns += [
                func.sum(case((both, 1), else_=0)),
                func.avg(case((both, func.abs(actual - predicted)), else_=None)),
                func.avg(case((both & (predicted > 0), actual / predicted), else_=None)),
            ]
        query = select(*columns).group_by(group).order_by(group)
        if outcome is not None:
            query = query.where(JobMetadataRow.outcome == outcome)
        if since is not None:
            query = query.where(JobMetadataRow.submitted_at >= _aware(since))
        if until is not None:
            query = query.where(JobMetadataRow.submitted_at < _aware(until))
        if organisation is not None:
            query = query.where(JobMetadataRow.organisation == organisation)
        rows: list[dict[str, Any]] = []
        with self.database.transaction() as session:
            result = session.execute(query).all()
        for values in result:
            row: dict[str, Any] = {by: values[0], "jobs": int(values[1])}
            names = (("count", "mae_time_s", "mean_ratio_time"),
                     ("cost_count", "mae_cost", "mean_ratio_cost"),
                     ("energy_count", "mae_energy_j", "mean_ratio_energy"))
            for i, (count_key, mae_key, ratio_key) in enumerate(names):
                count, mae, ratio = values[2 + 3 * i: 5 + 3 * i]
                row[count_key] = int(count or 0)
                row[mae_key] = None if mae is None else float(mae)
                row[ratio_key] = None if ratio is None else float(ratio)
            rows.append(row)
        return rows


class UsageSummary(BaseModel):
    """One organisation's use over a period: per day and per application, what its managers see."""

    model_config = ConfigDict(frozen=True)

    organisation: str
    since: datetime
    until: datetime
    days: list[dict[str, Any]] = Field(description="Per day: jobs, core-hours, energy (kJ) by source.")
    applications: list[dict[str, Any]] = Field(description="Most used first: jobs, core-hours, energy.")
    accuracy: list[dict[str, Any]] = Field(
        default_factory=list, description="Per application: the planner's predictions of time, cost "
                                          "and energy against what the completed jobs used.")


def _core_hours(row: JobMetadataRow) -> float:
    return row.used_time_s * max(row.cores, 0) / 3600.0


def _summarise(rows: Sequence[JobMetadataRow], key: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(key(row), {"jobs": 0, "completed": 0, "core_hours": 0.0,
                                             "energy_kj": 0.0, "measured_kj": 0.0, "modelled_kj": 0.0,
                                             "energy_unknown": 0})
        group["jobs"] += 1
        group["completed"] += row.outcome == JobState.COMPLETED.value
        group["core_hours"] += _core_hours(row)
        if row.energy_j is None:
            group["energy_unknown"] += 1
        else:
            kilojoules = row.energy_j / 1000.0
            group["energy_kj"] += kilojoules
            group["measured_kj" if row.energy_source in ("ear", "slurm") else "modelled_kj"] += kilojoules
    return groups


def usage_summary(store: MetadataStore, organisation: str, *, since: datetime, until: datetime,
                  top: int = 10) -> UsageSummary:
    """``organisation``'s jobs submitted in [``since``, ``until``): per day (UTC) and per
    application, energy split into measured and modelled (never added up unlabelled)."""
    query = select(JobMetadataRow).where(JobMetadataRow.organisation == organisation,
                                         JobMetadataRow.submitted_at >= _aware(since),
                                         JobMetadataRow.submitted_at < _aware(until))
    with store.database.transaction() as session:
        rows = list(session.execute(query).scalars())
        days = _summarise(rows, lambda row: row.submitted_at.astimezone(UTC).date().isoformat())
        apps = _summarise(rows, lambda row: row.application + (f" {row.application_version}"
                                                               if row.application_version else ""))
    ranked = sorted(apps.items(), key=lambda item: (-item[1]["jobs"], -item[1]["core_hours"], item[0]))
    accuracy = [row for row in store.accuracy(by="application", since=since, until=until,
                                              organisation=organisation)
                if row["count"] or row["cost_count"] or row["energy_count"]]
    return UsageSummary(organisation=organisation, since=since, until=until,
                        days=[{"day": day, **values} for day, values in sorted(days.items())],
                        applications=[{"application": name, **values} for name, values in ranked[:top]],
                        accuracy=accuracy)
