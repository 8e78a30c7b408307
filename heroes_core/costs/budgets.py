"""Budgets: reserve an estimate, commit actual costs, release the rest — atomically.

Each operation is one database transaction that first locks every budget row it
touches (``FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), always in
id order so two workflows can never deadlock. A hard budget never lets
``reserved + committed`` exceed its amount; a soft one lets it and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from heroes_core.costs.catalogue import PriceBook
from heroes_core.costs.currencies import currency, to_cents
from heroes_core.costs.db import Database
from heroes_core.costs.pricing import Usage, price_lines
from heroes_core.costs.schema import Budget, BudgetAlert, CostLine, Reservation
from heroes_core.errors import HeroesError, SpecError


class BudgetExceededError(HeroesError):
    """A hard budget has too little left for the estimate."""

    def __init__(self, message: str, *, budget_id: int, available: Decimal, needed: Decimal) -> None:
        super().__init__(message, site="billing",
                         fix="ask a billing admin to raise the budget, or lower the request")
        self.budget_id = budget_id
        self.available = available
        self.needed = needed


class BudgetView(BaseModel):
    id: int
    organisation: str
    project: str | None
    amount: Decimal
    currency: str
    hard: bool
    reserved: Decimal
    committed: Decimal

    @property
    def available(self) -> Decimal:
        return self.amount - self.reserved - self.committed

    @property
    def used_fraction(self) -> Decimal:
        return (self.reserved + self.committed) / self.amount if self.amount else Decimal(0)


class ChargeItem(BaseModel):
    """One job's use of one offering, to be priced at the instant it was incurred."""

    offering_id: int
    usage: Usage
    site: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _view(budget: Budget) -> BudgetView:
    return BudgetView(id=budget.id, organisation=budget.organisation, project=budget.project,
                      amount=budget.amount, currency=budget.currency, hard=budget.hard,
                      reserved=budget.reserved, committed=budget.committed)


class Budgets:
    """Budget rows, their reservations and the ledger they balance against."""

    def __init__(self, database: Database, prices: PriceBook) -> None:
        self.db = database
        self.prices = prices

    # -- budgets ----------------------------------------------------------------------------

    def create(self, organisation: str, amount: Decimal, currency_code: str, *,
               project: str | None = None, hard: bool = True, period_start: datetime | None = None,
               period_end: datetime | None = None) -> int:
        """A budget for an organisation (or one project); no end means a prepaid balance."""
        if amount <= 0:
            raise SpecError(f"a budget must be positive, not {amount}")
        start = period_start or _now()
        if period_end is not None and period_end <= start:
            raise SpecError("a budget period must end after it starts")
        with self.db.transaction() as session:
            budget = Budget(organisation=organisation, project=project, amount=amount,
                            currency=currency(currency_code), period_start=start,
                            period_end=period_end, hard=hard, reserved=Decimal(0),
                            committed=Decimal(0))
            session.add(budget)
            session.flush()
            return budget.id

    def raise_amount(self, budget_id: int, new_amount: Decimal) -> None:
        with self.db.transaction() as session:
            budget = self._locked(session, [budget_id])[0]
            if new_amount < budget.reserved + budget.committed:
                raise SpecError("the new amount is below what is already reserved and spent")
            budget.amount = new_amount

    def get(self, budget_id: int) -> BudgetView:
        with self.db.transaction() as session:
            budget = session.get(Budget, budget_id)
            if budget is None:
                raise SpecError(f"budget {budget_id} does not exist")
            return _view(budget)

    def budgets_of(self, organisation: str | None = None) -> list[BudgetView]:
        with self.db.transaction() as session:
            query = select(Budget).order_by(Budget.id)
            if organisation:
                query = query.where(Budget.organisation == organisation)
            return [_view(b) for b in session.scalars(query)]

    def available_for(self, organisation: str, project: str | None, in_currency: str,
                      at: datetime | None = None) -> Decimal | None:
        """What the tightest hard budget that applies still allows, in ``in_currency``;
        None when no hard budget applies (nothing to plan against)."""
        at = at or _now()
        with self.db.transaction() as session:
            ids = self._applicable_ids(session, organisation, project, at)
            budgets = [b for b in session.scalars(select(Budget).where(Budget.id.in_(ids))) if b.hard]
            amounts = [self.prices.convert(b.amount - b.reserved - b.committed, b.currency,
                                           in_currency, at, session) for b in budgets]
        return min(amounts) if amounts else None

    def _applicable_ids(self, session: Session, organisation: str, project: str | None,
                        at: datetime) -> list[int]:
        query = select(Budget.id).where(
            Budget.organisation == organisation,
            Budget.period_start <= at,
            or_(Budget.period_end.is_(None), Budget.period_end > at),
            or_(Budget.project.is_(None), Budget.project == project) if project else
            Budget.project.is_(None),
        ).order_by(Budget.id)
        return list(session.scalars(query))

    def _locked(self, session: Session, ids: Sequence[int]) -> list[Budget]:
        query = select(Budget).where(Budget.id.in_(sorted(ids))).order_by(Budget.id)
        if self.db.is_postgres:
            query = query.with_for_update()
        return list(session.scalars(query))

    # -- reserve / commit / release --------------------------------------------------------

    def reserve(self, organisation: str, project: str | None, workflow_id: str, amount: Decimal,
                amount_currency: str, *, now: datetime | None = None) -> list[int]:
        """Set ``amount`` aside on every budget that applies, or on none of them.

        Idempotent per workflow: while it holds open reservations, they are returned.
        """
        if amount <= 0:
            raise SpecError(f"a reservation must be positive, not {amount}")
        now = now or _now()
        with self.db.transaction() as session:
            existing = list(session.scalars(select(Reservation.id).where(
                Reservation.workflow_id == workflow_id, Reservation.state == "open")))
            if existing:  # a resumed workflow keeps the reservation it already holds
                return existing
            ids = self._applicable_ids(session, organisation, project, now)
            if not ids:
                raise SpecError(f"organisation '{organisation}' has no budget in force",
                                site="billing", fix="ask a billing admin to create one")
            reservation_ids = []
            for budget in self._locked(session, ids):
                needed = to_cents(self.prices.convert(amount, amount_currency, budget.currency, now,
                                                         session))
                available = budget.amount - budget.reserved - budget.committed
                if budget.hard and needed > available:
                    raise BudgetExceededError(
                        f"budget {budget.id} of '{organisation}'"
                        f"{'/' + budget.project if budget.project else ''} has "
                        f"{to_cents(available)} {budget.currency} left; this needs {needed}",
                        budget_id=budget.id, available=available, needed=needed)
                budget.reserved += needed
                reservation = Reservation(budget_id=budget.id, workflow_id=workflow_id,
                                          amount=needed, committed=Decimal(0), state="open",
                                          created_at=now)
                session.add(reservation)
                session.flush()
                reservation_ids.append(reservation.id)
            return reservation_ids

    def commit(self, workflow_id: str, *, organisation: str, project: str | None, user: str,
               job_key: str, items: Sequence[ChargeItem], incurred_at: datetime) -> Decimal:
        """Price what a job used at the prices in force then, write its ledger lines, and
        move that much from reserved to committed on the workflow's budgets.

        Idempotent per (job, offering, unit): committing the same job twice adds nothing.
        Returns the amount newly committed (in the prices' currency).
        """
        added = Decimal(0)
        with self.db.transaction() as session:
            reservations = list(session.scalars(select(Reservation).where(
                Reservation.workflow_id == workflow_id).order_by(Reservation.budget_id)))
            budgets = {b.id: b for b in self._locked(session, [r.budget_id for r in reservations])}
            for item in items:
                version_id, model = self.prices.price_at(item.offering_id, incurred_at, session)
                for line in price_lines(model, item.usage):
                    exists = session.scalar(select(CostLine.id).where(
                        CostLine.job_key == job_key, CostLine.offering_id == item.offering_id,
                        CostLine.unit == line.unit))
                    if exists is not None:
                        continue
                    added += line.amount
                    for reservation in reservations:
                        budget = budgets[reservation.budget_id]
                        in_budget = to_cents(self.prices.convert(line.amount, line.currency,
                                                                 budget.currency, incurred_at, session))
                        from_reserved = min(in_budget, reservation.amount - reservation.committed) \
                            if reservation.state == "open" else Decimal(0)
                        budget.reserved -= max(from_reserved, Decimal(0))
                        budget.committed += in_budget
                        reservation.committed += in_budget
                    first_budget = budgets[reservations[0].budget_id] if reservations else None
                    session.add(CostLine(
                        organisation=organisation, project=project, user=user,
                        workflow_id=workflow_id, job_key=job_key, site=item.site,
                        offering_id=item.offering_id, price_version_id=version_id, unit=line.unit,
                        quantity=line.quantity, unit_price=line.unit_price, amount=line.amount,
                        currency=line.currency,
                        budget_amount=to_cents(self.prices.convert(
                            line.amount, line.currency, first_budget.currency, incurred_at, session))
                        if first_budget else line.amount,
                        incurred_at=incurred_at))
        return added

    def release(self, workflow_id: str, *, now: datetime | None = None) -> Decimal:
        """Give back what the workflow reserved but did not spend; safe to call again."""
        now = now or _now()
        returned = Decimal(0)
        with self.db.transaction() as session:
            reservations = list(session.scalars(select(Reservation).where(
                Reservation.workflow_id == workflow_id, Reservation.state == "open")))
            budgets = {b.id: b for b in self._locked(session, [r.budget_id for r in reservations])}
            for reservation in reservations:
                left = max(reservation.amount - reservation.committed, Decimal(0))
                budgets[reservation.budget_id].reserved -= left
                reservation.state = "released"
                reservation.released_at = now
                returned += left
        return returned

    def release_stale(self, older_than: datetime) -> list[str]:
        """Release reservations of workflows that crashed before committing or releasing."""
        with self.db.transaction() as session:
            stale = sorted(set(session.scalars(select(Reservation.workflow_id).where(
                Reservation.state == "open", Reservation.created_at < older_than))))
        for workflow_id in stale:
            self.release(workflow_id)
        return stale

    # -- alerts -----------------------------------------------------------------------------

    def crossed_thresholds(self, thresholds: Sequence[int] = (80, 100), *,
                           now: datetime | None = None) -> list[tuple[BudgetView, int]]:
        """Budgets whose reserved + committed share passed a threshold not yet alerted on.

        Each (budget, threshold) is returned once ever: it is recorded in the same
        transaction, so two watchers running at once cannot both report it.
        """
        now = now or _now()
        crossed: list[tuple[BudgetView, int]] = []
        with self.db.transaction() as session:
            ids = list(session.scalars(select(Budget.id).order_by(Budget.id)))
            for budget in self._locked(session, ids):
                view = _view(budget)
                done = set(session.scalars(select(BudgetAlert.threshold).where(
                    BudgetAlert.budget_id == budget.id)))
                for threshold in sorted(thresholds):
                    if threshold not in done and view.used_fraction * 100 >= threshold:
                        session.add(BudgetAlert(budget_id=budget.id, threshold=threshold, emitted_at=now))
                        crossed.append((view, threshold))
        return crossed
