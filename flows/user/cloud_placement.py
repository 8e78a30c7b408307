"""The cloud clusters one workflow run holds nodes on, wave by wave.

Before a wave's steps are submitted, :meth:`WorkflowClouds.prepare` leases the nodes its jobs
need on each cloud cluster they are placed on (starting stopped ones, whose start-up is charged
with the first of its jobs, see :mod:`heroes_core.cloud.billing`). A cluster whose nodes do
not start is remembered as failed for the rest of the run, and its jobs are moved to their best
other option that keeps the plan feasible (:func:`heroes_core.decision.replacement.replace_jobs`),
or the workflow fails with a message naming the cluster and the provider's error; the nodes
started for it were stopped again before. After each wave,
:meth:`WorkflowClouds.release_unneeded` releases the clusters no job still to run is placed on;
the workflow's end releases every lease it holds, whatever the outcome (see
:mod:`heroes.tasks.cloud_nodes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prefect import get_run_logger

from heroes.tasks.cloud_nodes import (
    acquire_cloud_nodes,
    charge_node_startup,
    cloud_binding,
    release_cloud_nodes,
)
from heroes_core.cloud import CloudBinding, CloudError
from heroes_core.decision.proposal import Assignment, Plan
from heroes_core.decision.replacement import replace_jobs
from heroes_core.jobs import JobContext
from heroes_core.workflows import WorkflowSpec

LEASE_MARGIN_S = 3600.0
"""Added to a wave's longest time limit for the lease: staging, the batch queue, a pause for the
user's answer before the next wave. The lease is renewed at every wave on the cluster."""


class WorkflowClouds:
    """The cloud clusters a workflow run leases nodes on, and those that failed it."""

    def __init__(self, workflow_id: str, database: str) -> None:
        self.workflow_id = workflow_id
        self.database = database
        self.bindings: dict[str, CloudBinding | None] = {}
        self.held: set[str] = set()
        self.failed: dict[str, str] = {}

    def binding(self, centre: str) -> CloudBinding | None:
        if centre not in self.bindings:
            self.bindings[centre] = cloud_binding(centre)
        return self.bindings[centre]

    def prepare(self, plan: Plan, chosen: Assignment, workflow: WorkflowSpec, jobs: Iterable[str],
                context: Callable[[str, Assignment], JobContext]) -> Assignment:
        """Lease the nodes ``jobs`` need on the cloud clusters they are placed on; move the jobs of
        a cluster whose nodes do not start. Returns the assignment they run under.

        The start-up of the nodes started is charged with the first of a cluster's jobs
        (``context`` gives a job's context under an assignment)."""
        jobs = list(jobs)
        while True:  # each round returns, or fails one more cluster and moves its jobs off
            needs: dict[str, list[str]] = {}
            for job_id in jobs:
                site = plan.detail(job_id, chosen).site
                if self.binding(site) is not None:
                    needs.setdefault(site, []).append(job_id)
            moving = {centre: on for centre, on in needs.items() if centre in self.failed}
            for centre, on in needs.items():
                if centre in moving:
                    continue
                binding = self.binding(centre)
                assert binding is not None
                nodes = sum(workflow.job(job_id).nodes for job_id in on)
                hold = max(workflow.job(job_id).time_limit_minutes for job_id in on) * 60
                try:
                    lease = acquire_cloud_nodes(centre, self.workflow_id, min(nodes, binding.max_nodes),
                                                hold + binding.start_timeout_s + LEASE_MARGIN_S)
                except Exception as exc:  # a provider error, a timeout, an unreachable endpoint
                    get_run_logger().error("Cloud cluster %s failed the workflow: %s", centre, exc)
                    self.failed[centre] = exc.detail if isinstance(exc, CloudError) else str(exc)
                    moving[centre] = on
                    continue
                self.held.add(centre)
                if lease.started and (payer := context(on[0], chosen)).billing:
                    charge_node_startup(self.database, lease, binding, payer)
            if not moving:
                return chosen
            to_move = [job_id for on in moving.values() for job_id in on]
            chosen = replace_jobs(plan, chosen, to_move, self.failed)
            get_run_logger().warning("Re-placed %s off the failed cloud cluster(s) %s", ", ".join(
                f"{job_id} -> {plan.detail(job_id, chosen).site}" for job_id in to_move), ", ".join(moving))

    def release_unneeded(self, plan: Plan, chosen: Assignment, remaining: Iterable[str]) -> None:
        """Release every held cluster on which none of the ``remaining`` jobs is placed."""
        needed = {plan.detail(job_id, chosen).site for job_id in remaining}
        for centre in sorted(self.held - needed):
            release_cloud_nodes(centre, self.workflow_id)
            self.held.discard(centre)
