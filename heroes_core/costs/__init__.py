"""Costs: business models with history, budgets, and the consumption ledger."""
