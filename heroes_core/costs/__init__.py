"""Costs: business models with history, budgets, and the consumption ledger (module 9)."""

from heroes_core.costs.budgets import BudgetExceededError, Budgets, BudgetView, ChargeItem
from heroes_core.costs.estimates import (
    CostEstimate,
    estimate,
    partition_offering,
    partition_offering_name,
    worst_case_usage,
)
from heroes_core.costs.ledger import Ledger, LedgerLine
from heroes_core.costs.metering import Metered, Metering, consolidate_by_charge
from heroes_core.costs.price_book import ForbiddenError, PriceBook, PriceNotFoundError
from heroes_core.costs.pricing import PriceLine, PriceModel, Usage, price_lines

__all__ = [
    "BudgetExceededError",
    "BudgetView",
    "Budgets",
    "ChargeItem",
    "CostEstimate",
    "ForbiddenError",
    "Ledger",
    "LedgerLine",
    "Metered",
    "Metering",
    "PriceBook",
    "PriceLine",
    "PriceModel",
    "PriceNotFoundError",
    "Usage",
    "consolidate_by_charge",
    "estimate",
    "partition_offering",
    "partition_offering_name",
    "price_lines",
    "worst_case_usage",
]
