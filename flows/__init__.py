"""Prefect flows: user workflows (``user``) and architecture workflows (``architecture``)."""

from heroes.flows.architecture.budgets import billing_report, watch_budgets
from heroes.flows.architecture.decision import decision_dashboard
from heroes.flows.user.run_job import run_job
from heroes.flows.user.run_workflow import run_workflow

__all__ = ["billing_report", "decision_dashboard", "run_job", "run_workflow", "watch_budgets"]
