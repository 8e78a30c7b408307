"""run_job launched as a deployment, as from the Prefect UI: cancellation, crash recovery, and
serving after `prefect deploy` registered the same names on a work pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import run_deployment
from prefect.states import Cancelling, Scheduled

from heroes.flows import run_job_granted
from heroes_core.jobs import job_key
from heroes_core.models import JobState, UserArea
from tests.integration.conftest import ROOT
from tests.integration.grants import granted
from tests.integration.prefect_runner import serving


def parameters(image: dict[str, str], user: str, command: list[str]) -> dict[str, Any]:
    """A run of ``command`` for ``user`` of itest, granted as the gateway would."""
    return granted({"spec": {"image": image, "command": command, "time_limit_minutes": 5}}, user)


def wait_for(predicate, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def flow_run_state(flow_run_id: UUID):  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def running_job(site, key: str) -> str | None:  # type: ignore[no-untyped-def]
    found = site.scheduler.find(key)
    if found and site.scheduler.query(found)[found[-1]].state is JobState.RUNNING:
        return str(found[-1])
    return None


def flow_run_process(flow_run_id: UUID) -> int | None:
    """The pid of the process the runner started for this flow run."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    return int(entry.name)
            except OSError:
                continue
    return None


def test_cancelling_the_flow_run_in_prefect_cancels_the_slurm_job(runner, site, image, user) -> None:  # type: ignore[no-untyped-def]
    flow_run = run_deployment("run-job/run-job", timeout=0,
                              parameters=parameters(image, user, ["sleep", "300"]))
    key = job_key(str(flow_run.id), owner=UserArea(organisation="itest", user=user))
    job_id = wait_for(lambda: running_job(site, key), 120, "the Slurm job to run")
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Cancelling(), force=True)
    wait_for(lambda: flow_run_state(flow_run.id).is_cancelled(), 120, "the flow run to be cancelled")
    status = wait_for(lambda: (s := site.scheduler.query([job_id])[job_id]).state.is_final and s,
                      60, "the Slurm job to end")
    assert status.state is JobState.CANCELLED


def test_a_flow_run_killed_while_polling_resumes_its_job_exactly_once(runner, site, image, user, archive) -> None:  # type: ignore[no-untyped-def]
    command = ["sh", "-c", "echo ran >> runs.txt; sleep 8; echo done > done.txt"]
    flow_run = run_deployment("run-job/run-job", timeout=0,
                              parameters=parameters(image, user, command))
    key = job_key(str(flow_run.id), owner=UserArea(organisation="itest", user=user))
    job_id = wait_for(lambda: running_job(site, key), 120, "the Slurm job to run")
    pid = wait_for(lambda: flow_run_process(flow_run.id), 30, "the flow run's process")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: flow_run_state(flow_run.id).is_crashed() or flow_run_state(flow_run.id).is_final(),
             120, "the runner to notice the crash")
    with get_client(sync_client=True) as client:  # "Retry" in the UI: same flow run, same key
        client.set_flow_run_state(flow_run.id, Scheduled(name="AwaitingRetry"), force=True)
    final = wait_for(lambda: (s := flow_run_state(flow_run.id)).is_final() and not s.is_crashed() and s,
                     240, "the resumed flow run to finish")
    assert final.is_completed(), final.message
    assert site.scheduler.find(key) == [job_id]
    client = archive.s3_client()
    body = client.get_object(Bucket="heroes-itest", Key=f"{user}/jobs/{key}/runs.txt")["Body"].read()
    assert body == b"ran\n"
    assert client.get_object(Bucket="heroes-itest", Key=f"{user}/jobs/{key}/done.txt")["Body"].read() == b"done\n"


@pytest.fixture
def run_job_on_a_work_pool(blocks) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``run-job/run-job`` registered on a work pool with pull steps, as `prefect deploy` does:
    the state a fresh machine is in after the prefect.yaml test ran."""
    pool = f"heroes-process-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        client.create_deployment(
            flow_id=client.create_flow_from_name(run_job_granted.name), name="run-job",
            entrypoint="flows/user/entry.py:run_job_granted", work_pool_name=pool, path=None,
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}])
    yield pool
    with get_client(sync_client=True) as client:
        client.delete_work_pool(pool)


def test_serving_after_prefect_deploy_refuses_then_takes_over_and_runs(  # type: ignore[no-untyped-def]
        run_job_on_a_work_pool, site, image, user, tmp_path) -> None:
    refused = subprocess.run([sys.executable, "-m", "heroes.deployments"], capture_output=True,
                             text=True, timeout=120, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"run-job/run-job (work pool '{run_job_on_a_work_pool}')" in refused.stderr
    assert "--replace" in refused.stderr
    with serving(tmp_path / "runner.log", "--replace"):
        flow_run = run_deployment("run-job/run-job", timeout=0,
                                  parameters=parameters(image, user, ["true"]))
        final = wait_for(lambda: (s := flow_run_state(flow_run.id)).is_final() and s, 240,
                         "the flow run to finish")
    assert final.is_completed(), final.message
    with get_client(sync_client=True) as client:
        assert client.read_deployment_by_name("run-job/run-job").work_pool_name is None
