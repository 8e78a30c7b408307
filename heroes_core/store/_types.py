"""Column types every module's tables share: exact money and aware UTC times on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class _UnprocessedNumeric(Numeric):  # type: ignore[type-arg]
    """NUMERIC(p, s) in DDL, values passed through untouched (no float conversion)."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class ExactDecimal(TypeDecorator[Decimal]):
    """``NUMERIC(precision, scale)`` whose values are exact Decimals on every backend.

    PostgreSQL's numeric is exact. SQLite has no decimal type: a NUMERIC column there keeps
    floats, which lose digits (999999999999.99 reads back as 999999999999.98999) and sum
    inexactly. So on SQLite the value is stored as an integer count of 10**-scale (64-bit
    integers hold all 18 digits) in the same NUMERIC column. On both backends a value is
    rounded half-even to the scale, and one that does not fit the column is refused before
    the database sees it.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision=precision, scale=scale)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _UnprocessedNumeric(self.precision, self.scale)
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"{value!r} is a {type(value).__name__}: exact columns take Decimal")
        number = Decimal(value)
        if not number.is_finite() or number.copy_abs() >= Decimal(10) ** (self.precision - self.scale):
            raise ValueError(f"{number} does not fit NUMERIC({self.precision}, {self.scale})")
        rounded = number.quantize(Decimal(1).scaleb(-self.scale), rounding=ROUND_HALF_EVEN)
        if dialect.name == "sqlite":
            return int(rounded.scaleb(self.scale))
        return rounded

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, int):
                return Decimal(value).scaleb(-self.scale)
            # a float or text here was not written by ExactDecimal (see migration 0004)
            raise ValueError(f"{value!r} in an exact column was not written as exact units")
        return Decimal(value)


def Money() -> ExactDecimal:  # reads as a column type, like String()
    """Prices, budgets and reservations: NUMERIC(18, 6), exact on SQLite as on PostgreSQL."""
    return ExactDecimal(18, 6)


def Cents() -> ExactDecimal:  # reads as a column type, like String()
    """Ledger amounts: NUMERIC(18, 2), exact."""
    return ExactDecimal(18, 2)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: HEROES stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
