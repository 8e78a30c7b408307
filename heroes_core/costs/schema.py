"""Tables of the costs module (SQLAlchemy 2 typed ORM); the store's Alembic migrations mirror them.

Price versions are never updated except to close an open-ended validity, and
never in the past: so the price in force at any past instant stays recoverable.
Every change is also written to ``price_events`` (who, what, when) for audit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.store import Base, Cents, ExactDecimal, Money, UTCDateTime


class Provider(Base):
    """A resource provider (an HPC centre, a cloud account) or an application provider."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # "resource" | "application"


class Offering(Base):
    """Something with a price: a partition, an instance type, storage, transfer, an application."""

    __tablename__ = "offerings"
    __table_args__ = (UniqueConstraint("provider_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    site: Mapped[str | None] = mapped_column(String(100), nullable=True)


class PriceVersion(Base):
    """One business model of an offering, in force over [valid_from, valid_to)."""

    __tablename__ = "price_versions"
    __table_args__ = (Index("ix_price_versions_offering_from", "offering_id", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"))
    currency: Mapped[str] = mapped_column(String(3))
    fixed: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    per_core_hour: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    per_node_hour: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    per_gpu_hour: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    per_gb_month: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    per_gb_transferred: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))


class PriceEvent(Base):
    """Append-only audit trail of every price change."""

    __tablename__ = "price_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"))
    price_version_id: Mapped[int | None] = mapped_column(ForeignKey("price_versions.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(16))  # "publish" | "end"
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, str]] = mapped_column(JSON)


class ExchangeRate(Base):
    """1 unit of ``base`` = ``rate`` units of ``quote``, from ``valid_from`` on."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("base", "quote", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal(18, 8))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())


class Budget(Base):
    """Money an organisation (or one of its projects) may spend in a period.

    ``reserved`` and ``committed`` are kept on the row so one locked read decides
    a reservation; they always equal the sums over reservations and cost lines. A hard
    budget's ``committed`` never exceeds its ``amount``: what a job cost beyond its
    reservation and the budget's free room is recorded as ``overage`` instead.
    """

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hard: Mapped[bool] = mapped_column(Boolean, default=True)
    reserved: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    committed: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    overage: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))


class Reservation(Base):
    """An estimate set aside on one budget for one workflow, until committed or released.

    A workflow holds at most one open reservation per budget (a unique partial index).
    ``price_versions`` ({offering id: price version id}) are the prices the estimate used:
    the job is charged at them. ``site`` and ``job_key`` name the job the reservation pays
    for, so the stale-reservation sweep can ask that centre's scheduler whether it ended.
    """

    __tablename__ = "reservations"
    __table_args__ = (Index("uq_reservations_open", "workflow_id", "budget_id", unique=True,
                            postgresql_where=text("state = 'open'"),
                            sqlite_where=text("state = 'open'")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    workflow_id: Mapped[str] = mapped_column(String(100), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    committed: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    overage: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    state: Mapped[str] = mapped_column(String(16), default="open")  # "open" | "released"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    price_versions: Mapped[dict[str, int]] = mapped_column(JSON, default=dict,
                                                           server_default=text("'{}'"))
    site: Mapped[str | None] = mapped_column(String(100), nullable=True)
    job_key: Mapped[str | None] = mapped_column(String(100), nullable=True)


class CostLine(Base):
    """One priced quantity of one job: the ledger.

    Unique per charge, job key, offering and unit, where ``charge_ref`` names what was
    charged: ``job:<site>/<scheduler job id>`` when the scheduler's job id is known, else
    ``run:<workflow id>``. So committing one run's job twice adds nothing, while two runs
    that reuse a job key are both charged. ``overage`` (in the line's currency, like
    ``amount``) is the part of the line the workflow's hard budgets could not cover.
    """

    __tablename__ = "cost_lines"
    __table_args__ = (UniqueConstraint("charge_ref", "job_key", "offering_id", "unit",
                                       name="uq_cost_lines_charge"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user: Mapped[str] = mapped_column(String(64))
    workflow_id: Mapped[str] = mapped_column(String(100), index=True)
    job_key: Mapped[str] = mapped_column(String(100))
    charge_ref: Mapped[str] = mapped_column(String(200))
    site: Mapped[str | None] = mapped_column(String(100), nullable=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"))
    price_version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id"))
    unit: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(Money())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Cents())
    currency: Mapped[str] = mapped_column(String(3))
    budget_amount: Mapped[Decimal] = mapped_column(Cents())  # in the budget's currency
    overage: Mapped[Decimal] = mapped_column(Cents(), default=Decimal(0), server_default=text("0"))
    incurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetAlert(Base):
    """A threshold event already emitted for a budget, so each is emitted once."""

    __tablename__ = "budget_alerts"
    __table_args__ = (UniqueConstraint("budget_id", "threshold"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"))
    threshold: Mapped[int] = mapped_column(Integer)
    emitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
