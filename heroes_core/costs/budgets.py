"""Budgets: reserve an estimate, commit actual costs, release the rest — atomically.

Each operation is one database transaction that first locks every budget row it
touches (``FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), always in
id order so two workflows can never deadlock, and only then reads the workflow's
reservations: two callers for one workflow queue on the lock and the second sees
what the first wrote. A workflow holds at most one open reservation per budget
(a unique index backs this up). A hard budget never lets ``reserved + committed``
exceed its amount: what a job costs beyond its reservation comes from the budget's
free room, and what does not fit is recorded as ``overage``, never spent. A soft
budget lets it through and says so.

Money comes in as finite Decimals only, rounded to the cent before it is checked
(:func:`~heroes_core.costs.currencies.money`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from heroes_core.costs.currencies import MAX_AMOUNT, currency, money, to_cents
from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceLine, PriceModel, Usage, price_lines
from heroes_core.costs.schema import Budget, BudgetAlert, CostLine, PriceVersion, Reservation
from heroes_core.errors import HeroesError, SpecError
from heroes_core.models import JobState, JobStatus
from heroes_core.store import Database

T = TypeVar("T")

# How the stale-reservation sweep asks a centre about a job: (site, job key) -> its jobs.
JobStates = Callable[[str, str], Sequence[JobStatus]]


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
    overage: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.amount - self.reserved - self.committed

    @property
    def used_fraction(self) -> Decimal:
        return (self.reserved + self.committed) / self.amount if self.amount else Decimal(0)


class ChargeItem(BaseModel):
    """One job's use of one offering, to be priced at the reserved version or the instant
    it was incurred."""

    offering_id: int
    usage: Usage
    site: str | None = None


class SweepOutcome(BaseModel):
    """What the stale-reservation sweep did with one workflow's reservations, and why."""

    workflow_id: str
    action: Literal["released", "kept"]
    reason: str
    site: str | None = None
    job_key: str | None = None
    reserved_at: datetime
    returned: Decimal = Decimal(0)


@dataclass(frozen=True)
class _LineOf:
    """Who a charge's ledger lines are for, under which reference, and when incurred."""

    charge_ref: str
    organisation: str
    project: str | None
    user: str
    workflow_id: str
    job_key: str
    incurred_at: datetime


class _LockSetChanged(Exception):
    """A workflow gained a reservation on a budget this transaction had not locked."""


def _now() -> datetime:
    return datetime.now(UTC)


def _view(budget: Budget) -> BudgetView:
    return BudgetView(id=budget.id, organisation=budget.organisation, project=budget.project,
                      amount=budget.amount, currency=budget.currency, hard=budget.hard,
                      reserved=budget.reserved, committed=budget.committed, overage=budget.overage)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h"


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
        amount = money(amount, "budget amount")
        start = period_start or _now()
        if period_end is not None and period_end <= start:
            raise SpecError("a budget period must end after it starts")
        with self.db.transaction() as session:
            budget = Budget(organisation=organisation, project=project, amount=amount,
                            currency=currency(currency_code), period_start=start,
                            period_end=period_end, hard=hard, reserved=Decimal(0),
                            committed=Decimal(0), overage=Decimal(0))
            session.add(budget)
            session.flush()
            return budget.id

    def raise_amount(self, budget_id: int, new_amount: Decimal) -> None:
        new_amount = money(new_amount, "new budget amount")
        with self.db.transaction() as session:
            budget = self._locked(session, [budget_id])[0]
            if new_amount < budget.reserved + budget.committed:
                raise SpecError(f"the new amount {new_amount} is below what is already reserved and "
                                f"spent ({budget.reserved + budget.committed})",
                                fix="give an amount at least that large")
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

    def _locked(self, session: Session, ids: Iterable[int]) -> list[Budget]:
        query = select(Budget).where(Budget.id.in_(sorted(ids))).order_by(Budget.id)
        if self.db.is_postgres:
            query = query.with_for_update()
        return list(session.scalars(query))

    def _lock_workflow(self, session: Session, workflow_id: str, *, open_only: bool
                       ) -> tuple[list[Reservation], dict[int, Budget]]:
        """Lock the budgets a workflow's reservations are on, then read those reservations.

        Reading after the lock is what makes two commits or releases of one workflow queue
        instead of both acting on what they read before either wrote.
        """
        where = [Reservation.workflow_id == workflow_id]
        if open_only:
            where.append(Reservation.state == "open")
        ids = set(session.scalars(select(Reservation.budget_id).where(*where)))
        budgets = {b.id: b for b in self._locked(session, ids)}
        query = select(Reservation).where(*where).order_by(Reservation.budget_id, Reservation.id)
        if self.db.is_postgres:
            query = query.with_for_update()
        reservations = list(session.scalars(query))
        if {r.budget_id for r in reservations} - budgets.keys():
            raise _LockSetChanged(workflow_id)
        return reservations, budgets

    def _atomic(self, work: Callable[[Session], T], attempts: int = 5) -> T:
        """Run ``work`` in one transaction; start again if a concurrent writer got there first
        (a unique key taken meanwhile, or a new budget to lock)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.db.transaction() as session:
                    return work(session)
            except (IntegrityError, _LockSetChanged):
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reserve / commit / release --------------------------------------------------------

    def reserve(self, organisation: str, project: str | None, workflow_id: str, amount: Decimal,
                amount_currency: str, *, now: datetime | None = None,
                price_versions: Mapping[int, int] | None = None, site: str | None = None,
                job_key: str | None = None) -> list[int]:
        """Set ``amount`` aside on every budget that applies, or on none of them.

        Idempotent per workflow: while it holds open reservations, they are returned, however
        many callers race. ``price_versions`` ({offering id: version id}, from the estimate)
        are the prices the workflow's jobs will be charged at; ``site`` and ``job_key`` name
        the job, for the stale-reservation sweep to ask its scheduler about.
        """
        amount = money(amount, "reservation amount")
        amount_currency = currency(amount_currency)
        versions = {str(offering): int(version) for offering, version in (price_versions or {}).items()}
        now = now or _now()

        def work(session: Session) -> list[int]:
            ids = self._applicable_ids(session, organisation, project, now)
            held = set(session.scalars(select(Reservation.budget_id).where(
                Reservation.workflow_id == workflow_id, Reservation.state == "open")))
            locked = self._locked(session, set(ids) | held)
            existing = list(session.scalars(select(Reservation).where(
                Reservation.workflow_id == workflow_id, Reservation.state == "open"
            ).order_by(Reservation.id)))
            if existing:  # a resumed (or racing) caller gets the reservation already held
                if {r.budget_id for r in existing} - {b.id for b in locked}:
                    raise _LockSetChanged(workflow_id)
                for reservation in existing:
                    reservation.site = reservation.site or site
                    reservation.job_key = reservation.job_key or job_key
                return [r.id for r in existing]
            if not ids:
                raise SpecError(f"organisation '{organisation}' has no budget in force",
                                site="billing", fix="ask a billing admin to create one")
            self._check_versions(session, versions)
            reservation_ids = []
            for budget in (b for b in locked if b.id in ids):
                needed = money(to_cents(self.prices.convert(amount, amount_currency, budget.currency,
                                                             now, session)),
                               f"reservation of {amount} {amount_currency} in {budget.currency}")
                available = budget.amount - budget.reserved - budget.committed
                if budget.hard and needed > available:
                    raise BudgetExceededError(
                        f"budget {budget.id} of '{organisation}'"
                        f"{'/' + budget.project if budget.project else ''} has "
                        f"{to_cents(available)} {budget.currency} left; this needs {needed}",
                        budget_id=budget.id, available=available, needed=needed)
                if budget.reserved + needed >= MAX_AMOUNT:
                    raise SpecError(
                        f"reserving {needed} {budget.currency} would take budget {budget.id} to "
                        f"{budget.reserved + needed} reserved, beyond the largest amount HEROES stores",
                        site="billing", fix="release or commit older reservations first")
                budget.reserved += needed
                reservation = Reservation(budget_id=budget.id, workflow_id=workflow_id,
                                          amount=needed, committed=Decimal(0), overage=Decimal(0),
                                          state="open", created_at=now, price_versions=versions,
                                          site=site, job_key=job_key)
                session.add(reservation)
                session.flush()
                reservation_ids.append(reservation.id)
            return reservation_ids

        return self._atomic(work)

    @staticmethod
    def _check_versions(session: Session, versions: Mapping[str, int]) -> None:
        for offering, version_id in versions.items():
            version = session.get(PriceVersion, version_id)
            if version is None or str(version.offering_id) != offering:
                raise SpecError(f"price version {version_id} is not a price of offering {offering}",
                                fix="reserve with the version the estimate used (CostEstimate)")

    def commit(self, workflow_id: str, *, organisation: str, project: str | None, user: str,
               job_key: str, items: Sequence[ChargeItem], incurred_at: datetime,
               scheduler_job_id: str | None = None) -> Decimal:
        """Price what a job used, write its ledger lines, and move that much from reserved to
        committed on the workflow's budgets.

        The price is the version the workflow reserved at, if it named one for the offering,
        else the one in force at ``incurred_at``. Beyond its reservation a job is paid from a
        hard budget's free room; what does not fit is ``overage`` (budget, reservation and
        ledger line), so a hard budget never ends above its amount.

        Idempotent per charge: committing the same run's job (``scheduler_job_id`` on its
        site, or without one the workflow) twice adds nothing; another run that reuses the job
        key is charged. Returns the amount newly committed (in the prices' currency).
        """
        sites = sorted({item.site for item in items if item.site})
        charge_ref = (f"job:{sites[0] if sites else ''}/{scheduler_job_id}" if scheduler_job_id
                      else f"run:{workflow_id}")
        line_of = _LineOf(charge_ref=charge_ref, organisation=organisation, project=project,
                          user=user, workflow_id=workflow_id, job_key=job_key,
                          incurred_at=incurred_at)

        def work(session: Session) -> Decimal:
            added = Decimal(0)
            held, budgets = self._lock_workflow(session, workflow_id, open_only=False)
            reserved_versions: dict[str, int] = {}
            for reservation in sorted(held, key=lambda r: r.id):  # a later reservation's versions win
                reserved_versions.update(reservation.price_versions or {})
            # One reservation per budget pays: the open one, else the latest (a workflow that
            # reserved again after a release must not be charged twice on one budget).
            paying: dict[int, Reservation] = {}
            for reservation in held:
                current = paying.get(reservation.budget_id)
                if current is None or current.state != "open":
                    paying[reservation.budget_id] = reservation
            reservations = list(paying.values())
            payers = [(budgets[r.budget_id], r) for r in reservations]
            for item in items:
                version_id, model = self._price(session, reserved_versions, item.offering_id,
                                                 incurred_at)
                written = self._write_lines(session, line_of, item, version_id, model, payers)
                added += sum((line.amount for line in written), Decimal(0))
            return added

        return self._atomic(work)

    def _price(self, session: Session, reserved: Mapping[str, int], offering_id: int,
               incurred_at: datetime) -> tuple[int, PriceModel]:
        version_id = reserved.get(str(offering_id))
        if version_id is not None:
            return version_id, self.prices.version(version_id, session)
        return self.prices.price_at(offering_id, incurred_at, session)

    def charge_direct(self, charge_ref: str, *, organisation: str, project: str | None,
                      user: str, workflow_id: str, job_key: str, items: Sequence[ChargeItem],
                      incurred_at: datetime) -> list[PriceLine]:
        """Charge what was used without a reservation (archive storage, transfers): write its
        ledger lines and charge them to every budget that applies to the organisation (and
        project) at ``incurred_at``, in one transaction.

        Priced at the version in force at ``incurred_at``. As in :meth:`commit`, a hard budget
        never ends above its amount (the rest is ``overage``), no budget in force means lines
        and no charge, and a line already written under ``charge_ref`` (with this job key,
        offering and unit) is not written or charged again. Returns the lines newly written.
        """
        line_of = _LineOf(charge_ref=charge_ref, organisation=organisation, project=project,
                          user=user, workflow_id=workflow_id, job_key=job_key,
                          incurred_at=incurred_at)

        def work(session: Session) -> list[PriceLine]:
            ids = self._applicable_ids(session, organisation, project, incurred_at)
            payers: list[tuple[Budget, Reservation | None]] = [
                (budget, None) for budget in self._locked(session, ids)]
            written: list[PriceLine] = []
            for item in items:
                version_id, model = self.prices.price_at(item.offering_id, incurred_at, session)
                written += self._write_lines(session, line_of, item, version_id, model, payers)
            return written

        return self._atomic(work)

    def _write_lines(self, session: Session, line_of: _LineOf, item: ChargeItem, version_id: int,
                     model: PriceModel, payers: Sequence[tuple[Budget, Reservation | None]]
                     ) -> list[PriceLine]:
        """Price one item, charge each line not yet in the ledger to ``payers`` (each budget
        through its reservation, if it has one) and write it; return the lines written."""
        incurred_at = line_of.incurred_at
        written = []
        for line in price_lines(model, item.usage):
            exists = session.scalar(select(CostLine.id).where(
                CostLine.charge_ref == line_of.charge_ref, CostLine.job_key == line_of.job_key,
                CostLine.offering_id == item.offering_id, CostLine.unit == line.unit))
            if exists is not None:
                continue
            overage = Decimal(0)  # of the line, in its currency: the worst budget's
            for budget, reservation in payers:
                in_budget = to_cents(self.prices.convert(line.amount, line.currency,
                                                         budget.currency, incurred_at, session))
                over = self._charge(budget, reservation, in_budget)
                if over and in_budget:
                    overage = max(overage, to_cents(line.amount * over / in_budget))
            first_budget = payers[0][0] if payers else None
            session.add(CostLine(
                organisation=line_of.organisation, project=line_of.project, user=line_of.user,
                workflow_id=line_of.workflow_id, job_key=line_of.job_key,
                charge_ref=line_of.charge_ref, site=item.site, offering_id=item.offering_id,
                price_version_id=version_id, unit=line.unit, quantity=line.quantity,
                unit_price=line.unit_price, amount=line.amount, currency=line.currency,
                overage=overage,
                budget_amount=to_cents(self.prices.convert(
                    line.amount, line.currency, first_budget.currency, incurred_at, session))
                if first_budget else line.amount,
                incurred_at=incurred_at))
            session.flush()
            written.append(line)
        return written

    @staticmethod
    def _charge(budget: Budget, reservation: Reservation | None, amount: Decimal) -> Decimal:
        """Charge ``amount`` (in the budget's currency) to one budget, through its reservation if
        there is one; return the overage: the part a hard budget could not cover."""
        left = max(reservation.amount - reservation.committed, Decimal(0)) \
            if reservation is not None and reservation.state == "open" else Decimal(0)
        from_reserved = min(amount, left)
        budget.reserved -= from_reserved
        budget.committed += from_reserved
        beyond = amount - from_reserved
        room = max(budget.amount - budget.reserved - budget.committed, Decimal(0))
        from_room = min(beyond, room) if budget.hard else beyond
        over = beyond - from_room
        budget.committed += from_room
        budget.overage += over
        if reservation is not None:
            reservation.committed += from_reserved + from_room
            reservation.overage += over
        return over

    def release(self, workflow_id: str, *, now: datetime | None = None) -> Decimal:
        """Give back what the workflow reserved but did not spend; safe to call again, and
        from two places at once."""
        now = now or _now()

        def work(session: Session) -> Decimal:
            returned = Decimal(0)
            reservations, budgets = self._lock_workflow(session, workflow_id, open_only=True)
            for reservation in reservations:
                left = max(reservation.amount - reservation.committed, Decimal(0))
                budgets[reservation.budget_id].reserved -= left
                reservation.state = "released"
                reservation.released_at = now
                returned += left
            return returned

        return self._atomic(work)

    # -- stale reservations -----------------------------------------------------------------

    def sweep_stale(self, *, now: datetime | None = None, no_job_after: timedelta = timedelta(hours=48),
                    unknown_after: timedelta = timedelta(days=31),
                    final_grace: timedelta = timedelta(hours=1), job_states: JobStates | None = None,
                    organisation: str | None = None) -> list[SweepOutcome]:
        """Release reservations left by crashed workflows, but only once their job is over.

        Looks at reservations open for longer than ``no_job_after``. One that names its job
        (site and job key) is released only when ``job_states`` (the centre's scheduler) says
        the job ended more than ``final_grace`` ago, or that there is no such job; it is kept
        while the job is queued or running, and while the scheduler cannot tell, until
        ``unknown_after`` (longer than any job may run). One that names no job is released.
        Every decision comes back with its reason.
        """
        now = now or _now()
        query = select(Reservation.workflow_id, Reservation.created_at, Reservation.site,
                       Reservation.job_key).join(Budget, Budget.id == Reservation.budget_id).where(
            Reservation.state == "open", Reservation.created_at < now - no_job_after)
        if organisation:
            query = query.where(Budget.organisation == organisation)
        with self.db.transaction() as session:
            rows = session.execute(query).all()
        workflows: dict[str, list[tuple[datetime, str | None, str | None]]] = defaultdict(list)
        for workflow_id, created_at, site, job_key in rows:
            workflows[workflow_id].append((created_at, site, job_key))
        outcomes = []
        for workflow_id, held in sorted(workflows.items()):
            reserved_at = min(created for created, _, _ in held)
            site = next((s for _, s, _ in held if s), None)
            job_key = next((k for _, _, k in held if k), None)
            release, reason = self._stale_decision(now - reserved_at, site, job_key, job_states,
                                                   now, no_job_after, unknown_after, final_grace)
            returned = self.release(workflow_id, now=now) if release else Decimal(0)
            outcomes.append(SweepOutcome(workflow_id=workflow_id,
                                         action="released" if release else "kept", reason=reason,
                                         site=site, job_key=job_key, reserved_at=reserved_at,
                                         returned=returned))
        return outcomes

    @staticmethod
    def _stale_decision(age: timedelta, site: str | None, job_key: str | None,
                        job_states: JobStates | None, now: datetime, no_job_after: timedelta,
                        unknown_after: timedelta, final_grace: timedelta) -> tuple[bool, str]:
        """(release?, why) for one workflow's reservations reserved ``age`` ago."""
        if not site or not job_key:
            return True, f"no job recorded {_hours(age)} after reserving (limit {_hours(no_job_after)})"
        if job_states is None:
            return False, f"job {job_key} on {site}: no scheduler to ask, so kept"
        try:
            statuses = list(job_states(site, job_key))
            problem = ""
        except Exception as exc:  # any failure to ask means "cannot tell"
            statuses, problem = [], f"could not ask {site} about job {job_key}: {exc}"
        live = [s for s in statuses if not s.state.is_final and s.state is not JobState.UNKNOWN]
        if live:
            return False, "; ".join(f"job {s.job_id} is {s.state.value} on {site}" for s in live)
        unknown = [s for s in statuses if s.state is JobState.UNKNOWN]
        if problem or unknown:
            problem = problem or "; ".join(f"{site} cannot say how job {s.job_id} is ({s.reason})"
                                           for s in unknown)
            if age > unknown_after:
                return True, (f"{problem}; reserved {_hours(age)} ago, longer than any job may run "
                              f"({_hours(unknown_after)})")
            return False, f"{problem}; kept until {_hours(unknown_after)} after reserving"
        if not statuses:
            return True, f"no job {job_key} on {site} {_hours(age)} after reserving"
        ended = ", ".join(f"job {s.job_id} ended {s.state.value}" for s in statuses)
        last_end = max((s.end_time for s in statuses if s.end_time), default=None)
        if last_end is not None and now - last_end < final_grace:
            return False, f"{ended} on {site} at {last_end.isoformat()}: its run may still be charging it"
        return True, f"{ended} on {site}; its run never released the reservation"

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
