"""Estimate a job's cost before it runs: the worst case its request allows.

Reserving the worst case (the full time limit) means a job that ends early only
ever gives money back; it can never overspend a hard budget by running longer
than estimated, because Slurm kills it at its limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal

from pydantic import BaseModel

from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceLine, Usage, price_lines, total

CENT = Decimal("0.01")


class CostEstimate(BaseModel):
    offering_id: int
    price_version_id: int
    usage: Usage
    lines: list[PriceLine]
    amount: Decimal
    currency: str

    @property
    def reservation(self) -> Decimal:
        """What to set aside: the worst case rounded up to the cent, and at least a cent. A job
        whose worst case is under a cent still costs something (reserving nothing is refused, and
        many such jobs could otherwise pass a hard budget unchecked)."""
        return max(self.amount.quantize(CENT, rounding=ROUND_UP), CENT)


def partition_offering_name(site: str, partition: str) -> str:
    """How a centre's partition is named in the price book."""
    return f"{site}/{partition}"


def partition_offering(prices: PriceBook, site: str, partition: str | None) -> int:
    """The price book's offering for a centre's partition (provider = the centre's block name).

    A centre without partitions is priced under the partition name "default".
    """
    return prices.find_offering(site, "partition", partition_offering_name(site, partition or "default"))


def estimate(prices: PriceBook, offering_id: int, usage: Usage,
             at: datetime | None = None) -> CostEstimate:
    version_id, model = prices.price_at(offering_id, at or datetime.now(UTC))
    lines = price_lines(model, usage)
    return CostEstimate(offering_id=offering_id, price_version_id=version_id, usage=usage,
                        lines=lines, amount=total(lines), currency=model.currency)


def worst_case_usage(*, time_limit_minutes: int, cores: int, nodes: int = 1, gpus: int = 0) -> Usage:
    return Usage.of_job(seconds=time_limit_minutes * 60, cores=cores, nodes=nodes, gpus=gpus)
