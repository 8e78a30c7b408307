"""A 3-job workflow across the test bed's two centres, with the placement pause answered here."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import FlowRunSort
from prefect.flow_runs import resume_flow_run

from heroes.flows import decision_dashboard, run_workflow
from heroes.flows.user.run_workflow import PlacementError
from heroes_core.workflows import WorkflowSpec


def chain(name: str) -> WorkflowSpec:
    def job(job_id: str, script: str) -> dict[str, Any]:
        return {"id": job_id, "application": "busybox", "command": ["sh", "-c", script],
                "estimate_minutes": 0.1, "time_limit_minutes": 2}
    return WorkflowSpec.model_validate({
        "name": name,
        "jobs": [job("prepare", "echo 21 > n.txt"),
                 job("double", 'echo $(( $(cat "$HEROES_PARENT_PREPARE/n.txt") * 2 )) > out.txt'),
                 job("report", 'cat "$HEROES_PARENT_DOUBLE/out.txt" > report.txt')],
        "edges": [{"parent": "prepare", "child": "double", "files": ["n.txt"]},
                  {"parent": "double", "child": "report", "files": ["out.txt"]}],
    })


def paused_run(name: str, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for run in client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50):
                if run.name and run.parameters.get("workflow", {}).get("name") == name \
                        and run.state and run.state.is_paused():
                    return run.id
            time.sleep(0.5)
    raise AssertionError(f"workflow {name} never paused for its placement")


def test_a_three_job_workflow_runs_across_two_centres_after_the_user_moves_a_job(archive, blocks) -> None:  # type: ignore[no-untyped-def]
    name = f"dag{uuid.uuid4().hex[:8]}"
    user = f"u{uuid.uuid4().hex[:8]}"
    holder: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: holder.update(state=run_workflow(
        workflow=chain(name), organisation="itest", user=user, return_state=True)))
    thread.start()
    flow_run_id = paused_run(name)
    resume_flow_run(flow_run_id, run_input={"accept": True, "overrides": {"double": "local-slurm-2"}})
    thread.join(timeout=600)
    state = holder["state"]
    assert state.is_completed(), state.message
    statuses = state.result()
    assert set(statuses) == {"prepare", "double", "report"}
    client = archive.s3_client()
    listing = client.list_objects_v2(Bucket="heroes-itest", Prefix=f"{user}/jobs/")["Contents"]
    reports = [o["Key"] for o in listing if o["Key"].endswith("/report.txt")]
    assert len(reports) == 1
    assert client.get_object(Bucket="heroes-itest", Key=reports[0])["Body"].read() == b"42\n"
    records = [o["Key"] for o in listing if o["Key"].endswith("heroes-job.json")]
    import json
    sites = {json.loads(client.get_object(Bucket="heroes-itest", Key=k)["Body"].read())["site"] for k in records}
    assert sites == {"local-slurm", "local-slurm-2"}
    # Every job joined the performance metadata, with its prediction: the dashboard sees them.
    dashboard = decision_dashboard(by=["site"])
    by_site = {row["site"]: row for row in dashboard["site"]}
    assert by_site["local-slurm"]["count"] >= 2 and by_site["local-slurm-2"]["count"] >= 1


def test_a_workflow_that_cannot_meet_its_deadline_fails_before_submitting(blocks) -> None:  # type: ignore[no-untyped-def]
    spec = chain(f"late{uuid.uuid4().hex[:6]}").model_copy(update={"deadline_minutes": 0.01})
    state = run_workflow(workflow=spec, organisation="itest", user="late", auto_accept=True,
                         return_state=True)
    assert state.is_failed()
    assert "deadline" in state.message
    assert isinstance(state.result(raise_on_failure=False), PlacementError)
