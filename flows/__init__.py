"""Prefect flows: user workflows (``user``) and architecture workflows (``architecture``)."""

from heroes.flows.architecture.budgets import billing_report, watch_budgets
from heroes.flows.user.run_job import run_job

__all__ = ["billing_report", "run_job", "watch_budgets"]
