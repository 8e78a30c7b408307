"""The run_job flow end to end: Prefect server, SSH, Slurm, Charliecloud and S3, all real."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from heroes.flows import run_job
from heroes_core.jobs import job_key
from heroes_core.models import ImageRef, JobSpec, JobState, UserArea


def spec(image: dict[str, str], command: list[str], **extra: Any) -> JobSpec:
    return JobSpec(image=ImageRef(**image), command=command, time_limit_minutes=2, **extra)


def objects(archive, user: str, prefix: str = "") -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    client = archive.s3_client()
    listing = client.list_objects_v2(Bucket="heroes-itest", Prefix=f"{user}/{prefix}")
    return {item["Key"].removeprefix(f"{user}/"):
            client.get_object(Bucket="heroes-itest", Key=item["Key"])["Body"].read()
            for item in listing.get("Contents", [])}


def upload(archive, user: str, name: str, body: bytes) -> None:  # type: ignore[no-untyped-def]
    archive.s3_client().put_object(Bucket="heroes-itest", Key=f"{user}/{name}", Body=body)


def run(job: JobSpec, user: str, **params: Any):  # type: ignore[no-untyped-def]
    return run_job(spec=job, organisation="itest", user=user, return_state=True, **params)


def test_a_job_runs_with_its_inputs_and_its_outputs_reach_the_archive(archive, image, user) -> None:  # type: ignore[no-untyped-def]
    upload(archive, user, "inputs/words.txt", b"one two three four\n")
    job = spec(image, ["sh", "-c", "wc -w < inputs/words.txt > count.txt; echo $GREETING > env.txt"],
               inputs=["inputs/words.txt"], env={"GREETING": "hello"})
    state = run(job, user)
    assert state.is_completed(), state.message
    status = state.result()
    assert status.state is JobState.COMPLETED
    outputs = objects(archive, user, "jobs/")
    prefix = next(iter(outputs)).split("/")[1]
    assert outputs[f"jobs/{prefix}/count.txt"].strip() == b"4"
    assert outputs[f"jobs/{prefix}/env.txt"] == b"hello\n"
    assert f"jobs/{prefix}/slurm-{status.job_id}.out" in outputs
    assert f"jobs/{prefix}/inputs/words.txt" not in outputs  # inputs are not copied back
    assert f"jobs/{prefix}/heroes-job.json" not in outputs  # the record is HEROES', not in the home
    record = json.loads(archive.s3_client().get_object(
        Bucket="heroes-itest", Key=f"_heroes/jobs/{user}/{prefix}/heroes-job.json")["Body"].read())
    assert record["status"]["state"] == "COMPLETED" and record["site"] == "local-slurm"
    progress = artifacts_of(state.state_details.flow_run_id)[f"job-{prefix}"]
    assert [row["state"] for row in progress][-1] == "COMPLETED"
    assert progress[-1]["job id"] == status.job_id and progress[-1]["site"] == "local-slurm"


def artifacts_of(flow_run_id) -> dict[str, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    """The newest version of each table artifact of a flow run, as the UI shows them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.sorting import ArtifactSort
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])),
            sort=ArtifactSort.CREATED_DESC)
    tables: dict[str, list[dict[str, str]]] = {}
    for artifact in found:
        if artifact.key and artifact.key not in tables:
            data = artifact.data
            tables[artifact.key] = json.loads(data) if isinstance(data, str) else data
    return tables


def test_a_failing_job_stages_out_its_logs_and_fails_the_run_with_the_reason(archive, image, user) -> None:  # type: ignore[no-untyped-def]
    job = spec(image, ["sh", "-c", "echo partial > partial.txt; echo oops >&2; exit 3"])
    state = run(job, user)
    assert state.is_failed()
    assert "exit code 3" in state.message and "[local-slurm]" in state.message
    outputs = objects(archive, user, "jobs/")
    assert any(k.endswith("partial.txt") for k in outputs)
    log = next(v for k, v in outputs.items() if "/slurm-" in k)
    assert b"oops" in log


def test_a_job_over_its_time_limit_ends_as_timeout(archive, image, user) -> None:  # type: ignore[no-untyped-def]
    job = spec(image, ["sh", "-c", "echo started > started.txt; sleep 600"]).model_copy(
        update={"time_limit_minutes": 1})
    state = run(job, user)
    assert state.is_failed() and "TIMEOUT" in state.message
    assert any(k.endswith("started.txt") for k in objects(archive, user, "jobs/"))


def test_a_missing_input_fails_before_anything_is_submitted(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    key = job_key("missing", owner=UserArea(organisation="itest", user=user))
    state = run(spec(image, ["true"], inputs=["inputs/absent.txt"]), user, job_key=key)
    assert state.is_failed()
    assert "inputs/absent.txt not found in the archive" in state.message
    assert site.scheduler.find(key) == []


def test_a_wrong_image_digest_fails_before_anything_is_submitted(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    key = job_key("digest", owner=UserArea(organisation="itest", user=user))
    wrong = {"path": image["path"], "digest": "sha256:" + "1" * 64}
    state = run(spec(wrong, ["true"]), user, job_key=key)
    assert state.is_failed() and "not the expected sha256:1111" in state.message
    assert site.scheduler.find(key) == []


def test_a_missing_partition_fails_before_anything_is_submitted(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    key = job_key("partition", owner=UserArea(organisation="itest", user=user))
    state = run(spec(image, ["true"], partition="gpu"), user, job_key=key)
    assert state.is_failed() and "partition 'gpu'" in state.message and "debug" in state.message
    assert site.scheduler.find(key) == []


def test_an_escaping_input_path_is_refused_by_the_spec() -> None:
    with pytest.raises(ValueError, match="climbs out"):
        JobSpec(image=ImageRef(path="/i.tar.gz", digest="sha256:" + "2" * 64), command=["true"],
                inputs=["../../etc/passwd"])


def test_running_the_same_job_key_twice_submits_once_and_outputs_arrive_once(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    key = job_key("twice", owner=UserArea(organisation="itest", user=user))
    job = spec(image, ["sh", "-c", "echo ran >> runs.txt"])
    first = run(job, user, job_key=key)
    second = run(job, user, job_key=key)
    assert first.is_completed() and second.is_completed()
    assert len(site.scheduler.find(key)) == 1
    assert objects(archive, user, f"jobs/{key}/")[f"jobs/{key}/runs.txt"] == b"ran\n"


def test_the_flow_recovers_when_the_ssh_link_drops_while_polling(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    import threading

    from heroes.blocks import HPCCentre
    shared = HPCCentre.load("local-slurm").site().transport  # the process-wide connection
    job = spec(image, ["sh", "-c", "sleep 6; echo done > done.txt"])
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(state=run(job, user)))
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not job_running_for(site, user):
        time.sleep(0.3)
    before = shared.connections_made  # type: ignore[attr-defined]
    shared.drop_connection()  # type: ignore[attr-defined]
    thread.join(timeout=180)
    assert result["state"].is_completed(), result["state"].message
    assert shared.connections_made > before  # type: ignore[attr-defined]
    assert any(k.endswith("done.txt") for k in objects(archive, user, "jobs/"))


def job_running_for(site, user: str) -> bool:  # type: ignore[no-untyped-def]
    out = site.transport.check(["squeue", "--me", "--noheader", "--states=RUNNING",
                                "--format=%Z"]).stdout
    return any(f"/{user}/" in line for line in out.splitlines())


@pytest.mark.parametrize("key", ["../../other-org/heroes-x", "heroes-aaaaaaaa,heroes-bbbbbbbb"])
def test_a_hostile_job_key_is_refused_at_flow_entry_before_anything_is_made(image, user, site, key) -> None:  # type: ignore[no-untyped-def]
    state = run(spec(image, ["true"]), user, job_key=key, billing=False)
    assert state.is_failed() and "is malformed" in state.message
    made = site.transport.run(["test", "-e", f"{site.config.work_root}/itest/{user}"])
    assert not made.ok  # not even the user's directory was created


def test_another_tenants_job_key_is_refused_and_their_job_is_untouched(image, user, site) -> None:  # type: ignore[no-untyped-def]
    theirs = job_key("theirs", owner=UserArea(organisation="other-org", user=user))
    state = run(spec(image, ["true"]), user, job_key=theirs, billing=False)
    assert state.is_failed() and "does not belong to itest/" in state.message
    assert site.scheduler.find(theirs) == []


def test_a_resumed_run_finds_its_job_without_rechecking_a_republished_image(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    key = job_key("resumed", owner=UserArea(organisation="itest", user=user))
    first = run(spec(image, ["sh", "-c", "echo ran >> runs.txt"]), user, job_key=key)
    assert first.is_completed(), first.message
    republished = {"path": image["path"], "digest": "sha256:" + "3" * 64}
    again = run(spec(republished, ["sh", "-c", "echo ran >> runs.txt"]), user, job_key=key)
    assert again.is_completed(), again.message
    assert len(site.scheduler.find(key)) == 1
    assert objects(archive, user, f"jobs/{key}/")[f"jobs/{key}/runs.txt"] == b"ran\n"


def test_a_billing_error_after_the_job_leaves_its_outputs_archived(archive, image, user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from prefect import task

    @task(name="commit-cost")
    def ledger_unreachable(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the ledger database is unreachable")

    monkeypatch.setattr(sys.modules["heroes.flows.user.run_job"], "commit_cost", ledger_unreachable)
    state = run(spec(image, ["sh", "-c", "echo result > result.txt"]), user)
    assert state.is_failed() and "ledger database is unreachable" in state.message
    assert any(k.endswith("/result.txt") for k in objects(archive, user, "jobs/"))
