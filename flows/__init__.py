"""Prefect flows: user workflows (``user``) and, later, architecture workflows."""

from heroes.flows.user.run_job import run_job

__all__ = ["run_job"]
