"""Prefect flows: user workflows (``user``) and architecture workflows (``architecture``).

The ``*_granted`` flows are what the user-facing deployments run: who runs them comes from a
grant (``user/entry.py``). ``run_job``, ``run_workflow`` and ``billing_report`` take every
parameter from their caller, for tests, admins and Python code run in-process.
"""

import os

from heroes.blocks.log_sink import configure_logging
from heroes.flows.architecture.accounting import usage_summary_flow
from heroes.flows.architecture.budgets import billing_report, watch_budgets
from heroes.flows.architecture.centres import check_hpc_centre_compliance, enroll_hpc_centre
from heroes.flows.architecture.cloud import (
    deploy_temporary_nodes,
    integrate_cloud_platform,
    start_cluster_nodes,
    stop_cluster_nodes,
    terminate_idle_nodes,
    undeploy_temporary_nodes,
)
from heroes.flows.architecture.decision import decision_dashboard
from heroes.flows.architecture.metering import meter_data_usage
from heroes.flows.architecture.monitor import monitor_sites
from heroes.flows.architecture.retention import clean_job_directories
from heroes.flows.user.entry import (
    billing_report_granted,
    publish_application_granted,
    run_application_granted,
    run_job_granted,
    run_workflow_granted,
    unpublish_application_granted,
    usage_summary_granted,
)
from heroes.flows.user.run_job import run_job
from heroes.flows.user.run_workflow import run_workflow
from heroes_core.logs import FILE_ENV, FORMAT_ENV

# Every process that runs a HEROES flow imports this package first (a runner's subprocess loads
# the flow's module by its entrypoint): when its environment asks for ECS logs (HEROES_LOG_FORMAT,
# HEROES_LOG_SINK, HEROES_LOG_FILE) it sets them up here, once. Without those settings it leaves
# alone whatever the process configured itself (an importer that set logging up is not undone).
if any(os.environ.get(name) for name in (FORMAT_ENV, FILE_ENV, "HEROES_LOG_SINK")):
    configure_logging()

__all__ = [
    "billing_report",
    "billing_report_granted",
    "check_hpc_centre_compliance",
    "clean_job_directories",
    "decision_dashboard",
    "deploy_temporary_nodes",
    "enroll_hpc_centre",
    "integrate_cloud_platform",
    "meter_data_usage",
    "monitor_sites",
    "publish_application_granted",
    "run_application_granted",
    "run_job",
    "run_job_granted",
    "run_workflow",
    "run_workflow_granted",
    "start_cluster_nodes",
    "stop_cluster_nodes",
    "terminate_idle_nodes",
    "undeploy_temporary_nodes",
    "unpublish_application_granted",
    "usage_summary_flow",
    "usage_summary_granted",
    "watch_budgets",
]
