"""Waiting for a batch job without a process: the run suspends, and resumes when the job ends.

A job can queue for a day, and an organisation may have thousands in flight: a flow-run process
per job would hold memory and poll the login node for nothing. So ``run_job`` waits in its own
process only for a short while (most small jobs end within it); past that, a top-level run of a
deployment hands its job to the site monitor (:mod:`heroes.flows.architecture.monitor`, one query
per centre per interval for all jobs) and suspends. Its process exits. An automation resumes it
when the monitor reports the job's end (``heroes.job.<final state>``, the run as related
``flow-run`` resource), and another after :data:`LOOK_AGAIN` anyway, so a lost event never leaves
it suspended for good (:mod:`heroes.deployments.automations`).

Resumed, the run starts again from the top. Its steps are idempotent: the job is found by its key
and not submitted again, inputs already staged are not sent again, the budget reservation is the
one it holds. So it goes straight to the job's outcome, or (the job still running: a look after
the timeout) suspends again under a new key. A subflow (a workflow's step) or a run started
outside a deployment cannot be resumed by Prefect, so it keeps waiting in its process; the choice
is logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run

from heroes.blocks import HeroesDatabase
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.monitor import track_job
from heroes_core.jobs import JobContext
from heroes_core.models import JobStatus

IN_PROCESS_WAIT_S: Final = 60.0
"""How long ``run_job`` polls its job itself before it suspends (where it can)."""
LOOK_AGAIN: Final = timedelta(hours=1)
"""A suspended run is resumed after this long even if no event came, to look at its job itself."""
WAIT_KEY_PREFIX: Final = "wait-"


def can_suspend() -> bool:
    """Only a top-level run of a deployment can be resumed by Prefect once its process is gone."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return bool(run and run.deployment_id and run.parent_task_run_id is None)


def in_process_limit(wait_in_process_s: float | None) -> float | None:
    """How long to poll in this process before suspending; None: until the job ends."""
    if wait_in_process_s is None or not can_suspend():
        return None
    return wait_in_process_s


def _suspensions(flow_run_id: str, job_id: str) -> int:
    """How often this run already suspended for ``job_id`` (its pause keys in the state history):
    each suspension needs a new key, or Prefect would take it as one already resumed."""
    prefix = f"{WAIT_KEY_PREFIX}{job_id}-"
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(flow_run_id)  # type: ignore[arg-type]
    return sum(1 for state in states if (state.state_details.pause_key or "").startswith(prefix))


def suspend_until_done(database: HeroesDatabase | str, context: JobContext, status: JobStatus) -> None:
    """Hand the job to the site monitor and suspend this run: its process exits here (Prefect's
    ``Pause``) and the run starts again from the top once resumed. Returns only if Prefect refused
    the suspension, and then the caller waits in its process."""
    track_job(database, context, status.job_id)
    count = _suspensions(str(context.flow_run_id), status.job_id)
    logger = get_run_logger()
    logger.info("Job %s is %s after the in-process wait: suspending this run until the site monitor "
                "sees it end (it looks again after %s anyway)", status.job_id, status.state.value, LOOK_AGAIN)
    create_markdown_artifact(
        key=artifact_key("waiting", context.key),
        markdown=f"Job `{status.job_id}` on **{context.site}** was *{status.state.value}*: this run is "
                 f"suspended (no process) until the site monitor reports its end, or for at most "
                 f"{LOOK_AGAIN} before it looks again. Suspension {count + 1}.",
        description=f"Waiting without a process for job {context.key}")
    suspend_flow_run(key=f"{WAIT_KEY_PREFIX}{status.job_id}-{count}")
    logger.warning("The run could not be suspended: waiting for job %s in this process", status.job_id)


__all__ = ["IN_PROCESS_WAIT_S", "LOOK_AGAIN", "WAIT_KEY_PREFIX", "can_suspend", "in_process_limit",
           "suspend_until_done"]
