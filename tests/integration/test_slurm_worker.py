"""Whole Python flows on the test bed's Slurm through a real `prefect worker start --type
heroes-slurm`: a deployed flow runs as a Slurm job and reports which one; cancelling a
running flow run through the API ends its Slurm job.

The centre's jobs run as its service account (heroes-svc), which cannot run this checkout's
venv Python (its base interpreter lives under /root). So the fixture gives the account a
Python of its own on the centre: a venv of the system's python3 (same minor version) whose
``.pth`` file adds this venv's site-packages (readable by everyone), made over the centre's own
transport. The flow's code reaches the job through the deployment's pull step: a copy of
``slurm_worker_flows.py`` in a directory the account can read.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.deployments import run_deployment
from prefect.states import Cancelling

from heroes.workers import SlurmWorker
from heroes.workers._batch import flow_job_key
from heroes_core.sites import Site
from tests.integration.processes import stop

FLOWS = Path(__file__).with_name("slurm_worker_flows.py")


def wait_for(predicate, seconds: float, what: str, log: Path | None = None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    detail = f"\nworker log:\n{log.read_text()[-6000:]}" if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}{detail}")


def flow_run(flow_run_id: UUID):  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def messages(flow_run_id: UUID) -> list[str]:
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


@pytest.fixture
def centre_python(site: Site) -> Iterator[str]:
    """A Python with Prefect that the centre's service account can run (see the module's doc)."""
    home = f"{site.config.work_root.rstrip('/')}/.itest-python-{uuid.uuid4().hex[:8]}"
    purelib = sysconfig.get_paths()["purelib"]
    made = site.transport.run(["sh", "-c", 'python3 -m venv --without-pip "$1" && '
                               'echo "$2" > "$1/lib/python3.11/site-packages/heroes-itest.pth"',
                               "sh", home, purelib])
    assert made.ok, made.describe()
    yield f"{home}/bin/python"
    site.transport.run(["rm", "-rf", "--", home])


@pytest.fixture
def flow_source() -> Iterator[Path]:
    """The flows, copied where the service account can read them."""
    directory = Path(tempfile.mkdtemp(prefix="heroes-slurm-worker-"))
    directory.chmod(0o755)
    shutil.copy(FLOWS, directory / FLOWS.name)
    (directory / FLOWS.name).chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | stat.S_IWUSR)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Pool:
    name: str
    log: Path
    site: Site
    flow_runs: list[UUID]


@pytest.fixture
def slurm_pool(blocks, site: Site, centre_python: str, flow_source: Path,  # type: ignore[no-untyped-def]
               tmp_path: Path) -> Iterator[Pool]:
    """A fresh heroes-slurm work pool on local-slurm, both flows deployed to it, and a real
    worker polling it; the pool, deployments, worker and any job left are removed afterwards."""
    name = f"heroes-slurm-{uuid.uuid4().hex[:8]}"
    template = SlurmWorker.get_default_base_job_template()
    defaults = {"centre": "local-slurm", "python": centre_python, "partition": "debug",
                "time_limit_minutes": 10, "poll_interval_seconds": 1, "max_poll_interval_seconds": 3,
                "cancel_grace_seconds": 20}
    for variable, value in defaults.items():
        template["variables"]["properties"][variable]["default"] = value
    pull = [{"prefect.deployments.steps.set_working_directory": {"directory": str(flow_source)}}]
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="heroes-slurm", base_job_template=template))
        for function in ("where_am_i", "sleeper"):
            flow_name = f"heroes-slurm-{'where-am-i' if function == 'where_am_i' else 'sleeper'}"
            client.create_deployment(flow_id=client.create_flow_from_name(flow_name), name=name,
                                     entrypoint=f"{FLOWS.name}:{function}", work_pool_name=name,
                                     path=None, pull_steps=pull)
    log = tmp_path / "worker.log"
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "0"}
    with log.open("wb") as out:
        worker = subprocess.Popen([str(Path(sys.executable).with_name("prefect")), "worker", "start",
                                   "--pool", name, "--type", "heroes-slurm", "--name", name],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    pool = Pool(name=name, log=log, site=site, flow_runs=[])
    try:
        yield pool
    finally:
        stop(worker)
        for run_id in pool.flow_runs:
            for attempt in range(3):
                site.scheduler.cancel(site.scheduler.find(flow_job_key(str(run_id), attempt)))
        with get_client(sync_client=True) as client:
            for deployment in client.read_deployments():
                if deployment.work_pool_name == name:
                    client.delete_deployment(deployment.id)
            client.delete_work_pool(name)


def launch(pool: Pool, flow_name: str) -> UUID:
    run = run_deployment(f"{flow_name}/{pool.name}", timeout=0)
    pool.flow_runs.append(run.id)
    return run.id


def slurm_job(pool: Pool, run_id: UUID) -> str:
    """The Slurm job id the worker reported as the run's infrastructure pid."""
    pid = wait_for(lambda: flow_run(run_id).infrastructure_pid, 120, "the worker to submit the run",
                   pool.log)
    centre, _, job_id = pid.rpartition(":")
    assert centre == "local-slurm"
    return str(job_id)


def test_a_deployed_flow_runs_as_a_slurm_job_on_the_centre(slurm_pool: Pool) -> None:
    run_id = launch(slurm_pool, "heroes-slurm-where-am-i")
    job_id = slurm_job(slurm_pool, run_id)
    final = wait_for(lambda: (s := flow_run(run_id).state).is_final() and s, 240,
                     "the flow run to finish", slurm_pool.log)
    assert final.is_completed(), f"{final.message}\n{slurm_pool.log.read_text()[-6000:]}"
    lines = wait_for(lambda: [m for m in messages(run_id) if m.startswith("ran in ")], 30,
                     "the flow's log line")
    assert lines[0].startswith(f"ran in SLURM_JOB_ID={job_id} host=")
    assert slurm_pool.site.scheduler.find(flow_job_key(str(run_id), 0)) == [job_id]
    status = wait_for(lambda: (s := slurm_pool.site.scheduler.query([job_id])[job_id]).state.is_final
                      and s, 60, "the Slurm job to end (the engine reports before it exits)")
    assert status.state.value == "COMPLETED", status


def test_cancelling_a_running_flow_run_ends_its_slurm_job(slurm_pool: Pool) -> None:
    run_id = launch(slurm_pool, "heroes-slurm-sleeper")
    job_id = slurm_job(slurm_pool, run_id)
    wait_for(lambda: any(m.startswith("sleeping in") for m in messages(run_id)), 180,
             "the flow to run in its Slurm job", slurm_pool.log)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Cancelling(), force=True)
    wait_for(lambda: flow_run(run_id).state.is_cancelled(), 120, "the flow run to be cancelled",
             slurm_pool.log)
    status = wait_for(lambda: (s := slurm_pool.site.scheduler.query([job_id])[job_id]).state.is_final
                      and s, 120, "the Slurm job to end", slurm_pool.log)
    assert status.state.is_final
    squeue = slurm_pool.site.transport.check(["squeue", "--me", "--noheader", "--format=%i"])
    assert job_id not in squeue.stdout.split()


def test_the_worker_type_a_pool_is_created_with_is_heroes_slurm(slurm_pool: Pool) -> None:
    with get_client(sync_client=True) as client:
        pool: Any = client.read_work_pool(slurm_pool.name)
    assert pool.type == "heroes-slurm"
    assert pool.base_job_template["variables"]["properties"]["centre"]["default"] == "local-slurm"
