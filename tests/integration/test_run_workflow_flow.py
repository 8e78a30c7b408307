"""A 3-job workflow across the test bed's two centres, with the placement pause answered here."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
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
                workflow = run.parameters.get("workflow")
                if isinstance(workflow, dict) and workflow.get("name") == name \
                        and run.state and run.state.is_paused():
                    return run.id
            time.sleep(0.5)
    raise AssertionError(f"workflow {name} never paused for its placement")


def test_a_three_job_workflow_runs_across_two_centres_after_the_user_moves_a_job(archive, blocks) -> None:  # type: ignore[no-untyped-def]
    name = f"dag{uuid.uuid4().hex[:8]}"
    user = f"u{uuid.uuid4().hex[:8]}"
    holder: dict[str, Any] = {}
    thread = threading.Thread(daemon=True, target=lambda: holder.update(state=run_workflow(
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
    records = [o["Key"] for o in client.list_objects_v2(Bucket="heroes-itest", Prefix=f"_heroes/jobs/{user}/")
               ["Contents"] if o["Key"].endswith("heroes-job.json")]
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


def test_an_override_that_breaks_a_constraint_is_refused_and_the_user_is_asked_again(blocks) -> None:  # type: ignore[no-untyped-def]
    name = f"only{uuid.uuid4().hex[:8]}"
    spec = WorkflowSpec.model_validate({
        "name": name, "allowed_sites": ["local-slurm"],
        "jobs": [{"id": "one", "application": "busybox", "command": ["true"], "estimate_minutes": 0.1,
                  "time_limit_minutes": 2}]})
    holder: dict[str, Any] = {}
    thread = threading.Thread(daemon=True, target=lambda: holder.update(state=run_workflow(
        workflow=spec, organisation="itest", user="override", return_state=True)))
    thread.start()
    flow_run_id = paused_run(name)
    resume_flow_run(flow_run_id, run_input={"accept": True, "overrides": {"one": "local-slurm-2"}})
    deadline = time.monotonic() + 60  # refused: the run pauses again for a new answer
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run_id).state
            if state and state.is_paused() and state.state_details.pause_key == "placement-2":
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the refused override did not lead to a second question")
        only_this_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        deadline = time.monotonic() + 20  # logs reach the server in batches
        while time.monotonic() < deadline:
            messages = [log.message for log in client.read_logs(log_filter=only_this_run)]
            if any("Override refused" in m and "allowed_sites" in m for m in messages):
                break
            time.sleep(1)
        else:
            raise AssertionError(f"no refusal with its reason in the run's logs: {messages}")
    resume_flow_run(flow_run_id, run_input={"accept": True})
    thread.join(timeout=300)
    assert holder["state"].is_completed(), holder["state"].message


def test_the_organisations_decision_policy_places_a_workflow_only_where_it_allows(archive, blocks) -> None:  # type: ignore[no-untyped-def]
    import json

    from heroes.blocks import HeroesDatabase
    from heroes_core.decision.policy import DecisionPolicies, DecisionPolicy

    name, user = f"fenced{uuid.uuid4().hex[:8]}", f"u{uuid.uuid4().hex[:8]}"
    policies = DecisionPolicies(HeroesDatabase.load("heroes-database").database())
    policies.set(DecisionPolicy(organisation="itest", workflow=name, allowed_platforms=("local-slurm-2",),
                                strategy="price", users_may_change=False), actor="manager")
    refused = run_workflow(workflow=chain(name).model_copy(update={"strategy": "time"}), organisation="itest",
                           user=user, auto_accept=True, return_state=True)
    assert refused.is_failed() and "its users may not choose 'time'" in str(refused.message)
    state = run_workflow(workflow=chain(name), organisation="itest", user=user, auto_accept=True,
                         return_state=True)
    assert state.is_completed(), state.message
    client = archive.s3_client()
    records = [o["Key"] for o in client.list_objects_v2(Bucket="heroes-itest", Prefix=f"_heroes/jobs/{user}/")
               ["Contents"] if o["Key"].endswith("heroes-job.json")]
    sites = {json.loads(client.get_object(Bucket="heroes-itest", Key=k)["Body"].read())["site"] for k in records}
    assert len(records) == 3 and sites == {"local-slurm-2"}  # the refused run submitted nothing


def test_a_workflow_over_its_energy_cap_fails_before_submitting_saying_how_much_it_needs(blocks) -> None:  # type: ignore[no-untyped-def]
    spec = chain(f"watts{uuid.uuid4().hex[:6]}").model_copy(update={"energy_cap_kj": 0.001})
    state = run_workflow(workflow=spec, organisation="itest", user="capped", auto_accept=True,
                         return_state=True)
    assert state.is_failed()
    assert "over the energy cap of 1 J" in str(state.message), state.message
    assert isinstance(state.result(raise_on_failure=False), PlacementError)


def test_a_centre_that_goes_down_between_waves_is_planned_around_once_the_user_accepts(archive, blocks) -> None:  # type: ignore[no-untyped-def]
    """The first job runs on a cheap centre of its own; while it runs the centre reports every node
    down; before the second wave the planner re-solves, pauses with the new plan, and the second
    job runs on the other centre."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from heroes.blocks import ApplicationCatalog, HeroesDatabase, HPCCentre
    from heroes.tasks.artifacts import artifact_key
    from heroes.tasks.centre_events import CENTRE_DEGRADED
    from heroes_core.costs import PriceModel, partition_offering_name
    from tests.integration.block_copies import save_copy
    from tests.integration.test_centre_events import emit

    name, user, cheap = f"replan{uuid.uuid4().hex[:8]}", f"u{uuid.uuid4().hex[:8]}", f"cheap-{uuid.uuid4().hex[:8]}"
    centre = HPCCentre.load("local-slurm")
    save_copy(centre, cheap)
    prices = HeroesDatabase.load("heroes-database").budgets().prices
    prices.register_provider(cheap, "a cheap copy of the test bed's centre", "resource")
    now = datetime.now(UTC)
    for partition in centre.partitions:
        offering = prices.offering(cheap, "partition", partition_offering_name(cheap, partition), site=cheap)
        prices.publish(cheap, offering, PriceModel(currency="EUR", per_core_hour=Decimal("0.001")),
                       valid_from=now, now=now)
    images = ApplicationCatalog.load("heroes-catalog")
    busybox = images.applications[0]
    catalog = f"catalog-{cheap}"
    ApplicationCatalog(applications=[busybox.model_copy(update={"images": {
        cheap: busybox.images["local-slurm"], "local-slurm-2": busybox.images["local-slurm-2"]}})]).save(catalog)
    spec = chain(name).model_copy(update={"strategy": "price", "allowed_sites": [cheap, "local-slurm-2"]})
    first = spec.jobs[0].model_copy(update={"command": ["sh", "-c", "sleep 15; echo 21 > n.txt"]})
    spec = spec.model_copy(update={"jobs": [first, *spec.jobs[1:]]})
    holder: dict[str, Any] = {}
    thread = threading.Thread(daemon=True, target=lambda: holder.update(state=run_workflow(
        workflow=spec, organisation="itest", user=user, catalog=catalog, auto_accept=True, return_state=True)))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            key = ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key("placement", name)]))
            while not client.read_artifacts(artifact_filter=key):
                assert time.monotonic() < deadline, "the workflow was never placed"
                time.sleep(0.5)
        emit(cheap, CENTRE_DEGRADED, total_cpus=16, unavailable_cpus=16, idle_cpus=0, usable=False)
        flow_run_id = paused_run(name)
        with get_client(sync_client=True) as client:
            paused = client.read_flow_run(flow_run_id).state
            assert paused is not None and paused.state_details.pause_key == "replan-1"
            with_new_plan = ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key("replan", name)]))
            [proposal] = client.read_artifacts(artifact_filter=with_new_plan, limit=1)
            assert "no longer holds" in str(proposal.description)
        resume_flow_run(flow_run_id, run_input={"accept": True})
        thread.join(timeout=600)
        state = holder["state"]
        assert state.is_completed(), state.message
        client_s3 = archive.s3_client()
        listing = client_s3.list_objects_v2(Bucket="heroes-itest", Prefix=f"_heroes/jobs/{user}/")["Contents"]
        sites = {}
        for item in listing:
            if item["Key"].endswith("heroes-job.json"):
                record = json.loads(client_s3.get_object(Bucket="heroes-itest", Key=item["Key"])["Body"].read())
                sites[record["spec"]["name"]] = record["site"]
        assert sites == {"prepare": cheap, "double": "local-slurm-2", "report": "local-slurm-2"}
    finally:
        thread.join(timeout=600)
        HPCCentre.delete(cheap)
        ApplicationCatalog.delete(catalog)
