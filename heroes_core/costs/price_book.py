"""The price book: providers publish offerings and their business models, with history.

Rules that keep the past auditable: a price version covers [valid_from,
valid_to); versions of one offering never overlap; nothing is published or ended
before "now", so the price in force at any past instant never changes; every
change is also appended to ``price_events``. A provider may only touch its own
offerings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from heroes_core.costs.currencies import currency, money
from heroes_core.costs.pricing import COMPONENTS, PriceModel
from heroes_core.costs.schema import ExchangeRate, Offering, PriceEvent, PriceVersion, Provider
from heroes_core.errors import HeroesError, SpecError
from heroes_core.store import Database

OFFERING_KINDS = ("partition", "instance_type", "storage", "transfer", "application")
RATE_STEP, MAX_RATE = Decimal("0.00000001"), Decimal(10) ** 10  # exchange_rates.rate: NUMERIC(18, 8)


class ForbiddenError(HeroesError, PermissionError):
    """An actor tried to change what belongs to someone else."""


class PriceNotFoundError(HeroesError, LookupError):
    """No price was in force for an offering at an instant."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise SpecError(f"{what} {value.isoformat()} has no time zone", fix="give times in UTC")
    return value.astimezone(UTC)


class PriceBook:
    """Offerings, their price versions and exchange rates in the project database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # -- providers and offerings ------------------------------------------------------------

    def register_provider(self, provider_id: str, name: str, kind: str) -> None:
        if kind not in ("resource", "application"):
            raise SpecError(f"provider kind {kind!r} is neither 'resource' nor 'application'")
        with self.db.transaction() as session:
            if session.get(Provider, provider_id) is None:
                session.add(Provider(id=provider_id, name=name, kind=kind))

    def offering(self, actor: str, kind: str, name: str, *, site: str | None = None) -> int:
        """Create (or find) an offering owned by ``actor``; return its id."""
        if kind not in OFFERING_KINDS:
            raise SpecError(f"offering kind {kind!r} is not one of {', '.join(OFFERING_KINDS)}")
        with self.db.transaction() as session:
            provider = session.get(Provider, actor)
            if provider is None:
                raise ForbiddenError(f"'{actor}' is not a registered provider",
                                     fix="register the provider first")
            if (kind == "application") != (provider.kind == "application"):
                raise ForbiddenError(f"a {provider.kind} provider cannot offer a {kind}")
            found = session.scalar(select(Offering).where(
                Offering.provider_id == actor, Offering.kind == kind, Offering.name == name))
            if found is None:
                found = Offering(provider_id=actor, kind=kind, name=name, site=site)
                session.add(found)
                session.flush()
            return found.id

    def find_offering(self, provider: str, kind: str, name: str) -> int:
        with self.db.transaction() as session:
            found = session.scalar(select(Offering.id).where(
                Offering.provider_id == provider, Offering.kind == kind, Offering.name == name))
        if found is None:
            raise PriceNotFoundError(f"no {kind} '{name}' is offered by '{provider}'",
                                     fix="publish the offering and its price first")
        return found

    @staticmethod
    def _owned(session: Session, actor: str, offering_id: int) -> Offering:
        offering = session.get(Offering, offering_id)
        if offering is None:
            raise SpecError(f"offering {offering_id} does not exist")
        if offering.provider_id != actor:
            raise ForbiddenError(f"'{actor}' may not change the prices of '{offering.provider_id}'",
                                 fix="providers manage only their own offerings")
        return offering

    # -- price versions ---------------------------------------------------------------------

    def publish(self, actor: str, offering_id: int, model: PriceModel, *, valid_from: datetime,
                valid_to: datetime | None = None, now: datetime | None = None) -> int:
        """Add a price version; refuse overlaps, the past, and other providers' offerings."""
        now = _aware(now or _now(), "now")
        start = _aware(valid_from, "valid_from")
        end = _aware(valid_to, "valid_to") if valid_to else None
        if start < now:
            raise SpecError(f"valid_from {start.isoformat()} is in the past",
                            fix="prices can only change from now on; history is kept as it was")
        if end is not None and end <= start:
            raise SpecError("valid_to must be after valid_from")
        with self.db.transaction() as session:
            self._owned(session, actor, offering_id)
            overlap = session.scalar(select(PriceVersion).where(
                PriceVersion.offering_id == offering_id,
                or_(PriceVersion.valid_to.is_(None), PriceVersion.valid_to > start),
                *([PriceVersion.valid_from < end] if end else []),
            ).limit(1))
            if overlap is not None:
                until = overlap.valid_to.isoformat() if overlap.valid_to else "open-ended"
                raise SpecError(
                    f"the new period overlaps version {overlap.id} "
                    f"({overlap.valid_from.isoformat()} to {until})",
                    fix="end the current version first (PriceBook.end or change_price)")
            version = PriceVersion(offering_id=offering_id, valid_from=start, valid_to=end,
                                   recorded_at=now, recorded_by=actor,
                                   **model.model_dump())
            session.add(version)
            session.flush()
            session.add(PriceEvent(offering_id=offering_id, price_version_id=version.id,
                                   action="publish", actor=actor, at=now,
                                   detail={k: str(v) for k, v in model.model_dump().items()}))
            return version.id

    def end(self, actor: str, offering_id: int, at: datetime, *, now: datetime | None = None) -> None:
        """Close the open-ended version at ``at`` (not in the past)."""
        now = _aware(now or _now(), "now")
        at = _aware(at, "at")
        if at < now:
            raise SpecError(f"cannot end a price in the past ({at.isoformat()})")
        with self.db.transaction() as session:
            self._owned(session, actor, offering_id)
            current = session.scalar(select(PriceVersion).where(
                PriceVersion.offering_id == offering_id, PriceVersion.valid_to.is_(None)))
            if current is None:
                raise SpecError(f"offering {offering_id} has no open-ended price to end")
            if at <= current.valid_from:
                raise SpecError("a version cannot end before it starts")
            current.valid_to = at
            session.add(PriceEvent(offering_id=offering_id, price_version_id=current.id,
                                   action="end", actor=actor, at=now, detail={"at": at.isoformat()}))

    def change_price(self, actor: str, offering_id: int, model: PriceModel, *, effective: datetime,
                     now: datetime | None = None) -> int:
        """End the current version at ``effective`` and publish ``model`` from then on."""
        self.end(actor, offering_id, effective, now=now)
        return self.publish(actor, offering_id, model, valid_from=effective, now=now)

    def price_at(self, offering_id: int, instant: datetime,
                 session: Session | None = None) -> tuple[int, PriceModel]:
        """The (version id, model) in force at ``instant`` (in ``session`` if one is open)."""
        if session is None:
            with self.db.transaction() as own:
                return self.price_at(offering_id, instant, own)
        instant = _aware(instant, "instant")
        # Versions never overlap, so the latest one starting at or before the instant is the
        # only candidate: one index seek on (offering_id, valid_from), whatever the history.
        version = session.scalar(select(PriceVersion).where(
            PriceVersion.offering_id == offering_id, PriceVersion.valid_from <= instant,
        ).order_by(PriceVersion.valid_from.desc()).limit(1))
        if version is not None and version.valid_to is not None and version.valid_to <= instant:
            version = None
        if version is None:
            raise PriceNotFoundError(f"no price of offering {offering_id} is in force at "
                                     f"{instant.isoformat()}", fix="publish a price for that period")
        return version.id, PriceModel(currency=version.currency,
                                      **{k: getattr(version, k) for k in COMPONENTS})

    def version(self, version_id: int, session: Session | None = None) -> PriceModel:
        """The model of one price version, whether or not it is still in force."""
        if session is None:
            with self.db.transaction() as own:
                return self.version(version_id, own)
        version = session.get(PriceVersion, version_id)
        if version is None:
            raise PriceNotFoundError(f"price version {version_id} does not exist",
                                     fix="reserve with the version the estimate used")
        return PriceModel(currency=version.currency, **{k: getattr(version, k) for k in COMPONENTS})

    # -- exchange rates ---------------------------------------------------------------------

    def set_rate(self, base: str, quote: str, rate: Decimal, valid_from: datetime) -> None:
        rate = money(rate, f"exchange rate {base}->{quote}", places=RATE_STEP, limit=MAX_RATE)
        with self.db.transaction() as session:
            session.add(ExchangeRate(base=currency(base), quote=currency(quote), rate=rate,
                                     valid_from=_aware(valid_from, "valid_from")))

    def convert(self, amount: Decimal, base: str, quote: str, instant: datetime,
                session: Session | None = None) -> Decimal:
        """``amount`` in ``base`` expressed in ``quote`` at the rate in force at ``instant``."""
        if base == quote:
            return amount
        if session is None:
            with self.db.transaction() as own:
                return self.convert(amount, base, quote, instant, own)
        instant = _aware(instant, "instant")
        for b, q, invert in ((base, quote, False), (quote, base, True)):
            rate = session.scalar(select(ExchangeRate.rate).where(and_(
                ExchangeRate.base == b, ExchangeRate.quote == q, ExchangeRate.valid_from <= instant,
            )).order_by(ExchangeRate.valid_from.desc()).limit(1))
            if rate is not None:
                return amount / rate if invert else amount * rate
        raise SpecError(f"no exchange rate from {base} to {quote} at {instant.isoformat()}",
                        fix=f"record a {base}->{quote} rate (PriceBook.set_rate)")
