"""Performance metadata: one row per job HEROES ran, what it asked for, used and cost.

The rows live in the project database next to the costs tables (same ``Base``,
same Alembic history, migration ``0002``). They feed the predictor
(:mod:`heroes_core.decision.predict`) and the administrators' performance
dashboard (:meth:`MetadataStore.accuracy`: predictions against actual runs).

Usage comes from the scheduler's accounting (:meth:`Scheduler.usage`). Energy has a
provenance, in the design's order of trust: EAR (measured by the EAR library or
daemon) > the Slurm energy plugin (``ConsumedEnergyRaw``) > a model; see
:func:`energy_provenance`.
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

from heroes_core.errors import SpecError
from heroes_core.models import JobState
from heroes_core.schedulers import UsageRecord
from heroes_core.store import Base, Database, UTCDateTime

EnergySource = Literal["ear", "slurm", "model", "none"]
ENERGY_SOURCES: tuple[EnergySource, ...] = ("ear", "slurm", "model", "none")
MEASURED_ENERGY_SOURCES: tuple[EnergySource, ...] = ("ear", "slurm")

# -- table ------------------------------------------------------------------------------------


class JobMetadataRow(Base):
    """One job HEROES ran: request, usage, energy (with its provenance), cost and prediction."""

    __tablename__ = "job_records"
    __table_args__ = (Index("ix_job_records_application_site", "application", "site", "submitted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_key: Mapped[str] = mapped_column(String(100), unique=True)
    workflow_id: Mapped[str] = mapped_column(String(100), index=True)
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str] = mapped_column(String(64))
    application: Mapped[str] = mapped_column(String(200))
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
    energy_j: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy_source: Mapped[str] = mapped_column(String(8))  # "ear" | "slurm" | "model" | "none"
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
    user: str = Field(max_length=64)
    application: str = Field(min_length=1, max_length=200)
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
    energy_j: float | None = Field(default=None, ge=0)
    energy_source: EnergySource = "none"
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
                   watts_per_core: float | None = None, **fields: Any) -> JobMetadata:
        """A record from parsed Slurm accounting plus the fields only HEROES knows.

        Energy follows :func:`energy_provenance`: EAR's figure if given, else the
        Slurm plugin's, else (if ``watts_per_core`` is given) the model's.
        """
        modelled = (usage.cores * usage.elapsed_s * watts_per_core) if watts_per_core else None
        energy, source = energy_provenance(ear_energy_j=ear_energy_j, slurm_energy_j=usage.energy_j,
                                           modelled_energy_j=modelled)
        values: dict[str, Any] = {
            "cores": usage.cores, "nodes": usage.nodes, "gpus": usage.gpus,
            "used_time_s": usage.elapsed_s, "queue_wait_s": usage.queue_wait_s,
            "max_memory_mb": usage.max_memory_mb, "energy_j": energy, "energy_source": source,
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


# -- energy provenance ------------------------------------------------------------------------


def energy_provenance(*, ear_energy_j: float | None = None, slurm_energy_j: float | None = None,
                      modelled_energy_j: float | None = None) -> tuple[float | None, EnergySource]:
    """Pick the most trusted energy figure available and say where it came from.

    Order (design D3.1, modules 3 and 7): EAR > Slurm energy plugin > model.
    A missing, zero or negative figure counts as "not measured": Slurm reports
    ``ConsumedEnergyRaw`` 0 when no ``AcctGatherEnergyType`` plugin is set up,
    so 0 J is no measurement, not a free job. Returns ``(None, "none")`` when
    nothing is available.
    """
    for value, source in ((ear_energy_j, "ear"), (slurm_energy_j, "slurm"), (modelled_energy_j, "model")):
        if value is not None and value > 0:
            return float(value), source  # type: ignore[return-value]
    return None, "none"


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
                 since: datetime | None = None) -> list[dict[str, Any]]:
        """Predicted vs actual, per site or per application, for the performance dashboard.

        Each row: the group (``site`` or ``application``), ``jobs`` (records in the
        group), and for runtime, cost and energy the number of records with both a
        prediction and an actual value (``count`` for runtime, ``cost_count``,
        ``energy_count``), the mean absolute error (``mae_time_s``, ``mae_cost``,
        ``mae_energy_j``) and the mean ratio actual/predicted (``mean_ratio_time``,
        ...; over positive predictions only; > 1 means runs take more than predicted).
        Costs are compared as recorded, in the record's currency. Only ``outcome``
        records count (default COMPLETED: a failed run says little about a prediction).
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
