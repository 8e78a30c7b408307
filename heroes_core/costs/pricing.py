"""Business models as formulas: a fixed part per use plus usage parts ("Ax + B").

A :class:`PriceModel` is what a provider publishes; a :class:`Usage` is what a job
consumed (or is predicted to consume); :func:`price_lines` turns the two into
ledger lines, one per non-zero component, so a bill shows what each part cost.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.costs.currencies import MAX_AMOUNT, currency, to_cents

MICRO = Decimal("0.000001")  # prices and quantities are stored as NUMERIC(18, 6)

COMPONENTS: dict[str, tuple[str, str]] = {
    # price field: (unit on the bill, Usage field it multiplies)
    "fixed": ("use", "uses"),
    "per_core_hour": ("core-hour", "core_hours"),
    "per_node_hour": ("node-hour", "node_hours"),
    "per_gpu_hour": ("gpu-hour", "gpu_hours"),
    "per_gb_month": ("gb-month", "gb_months"),
    "per_gb_transferred": ("gb-transferred", "gb_transferred"),
}


class PriceModel(BaseModel):
    """What one use of an offering costs: fixed part plus usage parts, in one currency."""

    model_config = ConfigDict(frozen=True)

    currency: str
    fixed: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    per_core_hour: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    per_node_hour: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    per_gpu_hour: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    per_gb_month: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    per_gb_transferred: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        return currency(value)

    @field_validator(*COMPONENTS)
    @classmethod
    def _stored_precision(cls, value: Decimal) -> Decimal:
        """Rounded (half-even) to the 6 places the price book stores, on every database, so
        that the price charged is the price stored; still below the column's limit."""
        rounded = value.quantize(MICRO, rounding=ROUND_HALF_EVEN)
        if rounded >= MAX_AMOUNT:
            raise ValueError(f"{value} rounds to {rounded}, beyond the largest price stored")
        return rounded

    def model_post_init(self, __context: object) -> None:
        if all(getattr(self, name) == 0 for name in COMPONENTS):
            raise ValueError("a price model must charge something: every component is zero")


class Usage(BaseModel):
    """What a job used (or is predicted to use), in the units prices are quoted in."""

    model_config = ConfigDict(frozen=True)

    uses: Decimal = Field(default=Decimal(1), ge=0, lt=MAX_AMOUNT)
    core_hours: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    node_hours: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    gpu_hours: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    gb_months: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)
    gb_transferred: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_AMOUNT)

    @classmethod
    def of_job(cls, *, seconds: float, cores: int, nodes: int = 1, gpus: int = 0) -> Usage:
        hours = Decimal(str(seconds)) / Decimal(3600)
        return cls(core_hours=hours * cores, node_hours=hours * nodes, gpu_hours=hours * gpus)

    def quantity(self, component: str) -> Decimal:
        value: Decimal = getattr(self, COMPONENTS[component][1])
        return value


class PriceLine(BaseModel):
    """One component of a price applied to one quantity."""

    model_config = ConfigDict(frozen=True)

    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str


def price_lines(model: PriceModel, usage: Usage) -> list[PriceLine]:
    """The lines of a bill: each non-zero component, amounts rounded to the cent."""
    lines = []
    for component, (unit, _) in COMPONENTS.items():
        unit_price: Decimal = getattr(model, component)
        quantity = usage.quantity(component)
        if unit_price and quantity:
            lines.append(PriceLine(unit=unit, quantity=quantity, unit_price=unit_price,
                                   amount=to_cents(unit_price * quantity), currency=model.currency))
    return lines


def total(lines: list[PriceLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))
