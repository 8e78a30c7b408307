"""The price list every other module reads and writes: one row per provider/region/type/unit.

The clients build rows, the cache stores lists, the cost estimates look prices
up; keeping the shape here lets each of them change without the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from heroes_core.costs.cloud_prices.errors import UnknownPriceError
from heroes_core.costs.currencies import currency as iso_currency

Provider = Literal["aws", "oci"]
Unit = Literal["instance-hour", "ocpu-hour", "gb-memory-hour"]
PROVIDERS: tuple[Provider, ...] = ("aws", "oci")

GLOBAL_REGION = "global"
"""Region of prices that are the same everywhere (OCI publishes one price list for all regions)."""

COMMAND = "python -m heroes_core.costs.cloud_prices"
REFRESH_COMMAND = f"{COMMAND} refresh"
"""Named in every error whose fix is fresher prices."""


def now() -> datetime:
    """The ``fetched_at`` of rows fetched now: aware, in UTC, as the model requires."""
    return datetime.now(UTC)


def leading_number(text: object) -> float | None:
    """``"8"`` -> 8.0, ``"0.5 GiB"`` -> 0.5, ``"1,952 GiB"`` -> 1952.0, ``"NA"`` -> None.

    Both price APIs write quantities as display text, units and all.
    """
    if not isinstance(text, str | int | float):
        return None
    head = str(text).replace(",", "").split(" ")[0]
    try:
        return float(head)
    except ValueError:
        return None


class InstancePrice(BaseModel):
    """The on-demand price of one unit of one instance type in one region.

    AWS sells whole instances (``unit="instance-hour"``). OCI flex shapes are
    sold per resource, so one shape has two rows: ``"ocpu-hour"`` and
    ``"gb-memory-hour"``; an instance costs ``ocpus * p_ocpu + gb * p_gb``.
    ``vcpus``/``memory_gib`` describe a whole instance and stay ``None`` on
    per-resource rows.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    region: str = Field(min_length=1, description=f"Provider region, or {GLOBAL_REGION!r}.")
    instance_type: str = Field(min_length=1, description="AWS instance type or OCI shape.")
    unit: Unit = "instance-hour"
    vcpus: int | None = Field(default=None, ge=1)
    memory_gib: float | None = Field(default=None, gt=0)
    gpus: int = Field(default=0, ge=0)
    price_per_hour: Decimal = Field(gt=0, description="Price of one unit for one hour.")
    currency: str = "USD"
    fetched_at: AwareDatetime
    source: str = Field(min_length=1, description="'aws-pricing-api', 'oci-price-list' or 'snapshot'.")

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        return iso_currency(value)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.provider, self.region, self.instance_type, self.unit)


class PriceList(BaseModel):
    """A set of instance prices, at most one per provider/region/type/unit."""

    model_config = ConfigDict(extra="forbid")

    fetched_at: AwareDatetime
    prices: list[InstancePrice] = Field(default_factory=list)
    note: str = ""
    failed: dict[Provider, str] = Field(
        default_factory=dict,
        description="Providers whose last refresh failed (their earlier prices were kept), with why.")

    @field_validator("prices")
    @classmethod
    def _unique(cls, value: list[InstancePrice]) -> list[InstancePrice]:
        seen: set[tuple[str, str, str, str]] = set()
        for price in value:
            if price.key in seen:
                raise ValueError(f"two prices for {'/'.join(price.key)}")
            seen.add(price.key)
        return value

    def for_provider(self, provider: Provider) -> list[InstancePrice]:
        return [price for price in self.prices if price.provider == provider]

    def lookup(self, provider: Provider, region: str, instance_type: str,
               unit: Unit = "instance-hour") -> InstancePrice:
        """The price of ``instance_type`` in ``region``; a region-independent price also matches."""
        for wanted_region in (region, GLOBAL_REGION):
            for price in self.prices:
                if price.key == (provider, wanted_region, instance_type, unit):
                    return price
        known = sorted({p.instance_type for p in self.prices
                        if p.provider == provider and p.region in (region, GLOBAL_REGION)})
        listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "") if known else "none"
        refresh = (f"{REFRESH_COMMAND} --regions {region} --instance-types {instance_type}"
                   if provider == "aws" else REFRESH_COMMAND)
        raise UnknownPriceError(
            f"no {provider} price for {instance_type} ({unit}) in region {region} in the price list "
            f"fetched {self.fetched_at:%Y-%m-%d}; {provider} types priced there: {listed}",
            fix=f"check the name, or refresh the prices: {refresh}")

    def hourly_price(self, provider: Provider, region: str, instance_type: str, *,
                     ocpus: float | None = None, memory_gb: float | None = None) -> Decimal:
        """What one instance costs per hour; flex shapes need their ``ocpus`` and ``memory_gb``."""
        try:
            return self.lookup(provider, region, instance_type).price_per_hour
        except UnknownPriceError:
            if ocpus is None or memory_gb is None:
                raise
        ocpu = self.lookup(provider, region, instance_type, "ocpu-hour").price_per_hour
        memory = self.lookup(provider, region, instance_type, "gb-memory-hour").price_per_hour
        return ocpu * Decimal(str(ocpus)) + memory * Decimal(str(memory_gb))

    def node_cost(self, provider: Provider, region: str, instance_type: str, *, nodes: int, seconds: float,
                  ocpus: float | None = None, memory_gb: float | None = None) -> tuple[Decimal, str]:
        """What ``nodes`` instances cost for ``seconds`` (on-demand, billed per second as both
        providers bill Linux instances), and the price list's currency for it.

        The planner prices a cloud cluster's option with it: the CSP's price is the
        provider's cost, which the organisation pays for its own cluster.
        """
        if nodes < 1 or seconds < 0:
            raise ValueError("a cost needs at least one node and a non-negative time")
        hourly = self.hourly_price(provider, region, instance_type, ocpus=ocpus, memory_gb=memory_gb)
        currency = next((p.currency for p in self.prices if p.provider == provider
                         and p.region in (region, GLOBAL_REGION) and p.instance_type == instance_type), "USD")
        return hourly * nodes * Decimal(str(seconds)) / Decimal(3600), currency


def merge(old: PriceList, new_prices: Iterable[InstancePrice], *, fetched_at: datetime,
          failed: Mapping[Provider, str]) -> PriceList:
    """``old`` updated with ``new_prices``: rows not fetched again are kept, never dropped."""
    rows = {price.key: price for price in old.prices}
    rows.update((price.key, price) for price in new_prices)
    kept_snapshot = any(price.source == "snapshot" for price in rows.values())
    return PriceList(fetched_at=fetched_at, prices=sorted(rows.values(), key=lambda p: p.key),
                     note=old.note if kept_snapshot else "", failed=dict(failed))
