"""The production layout in small (docs/production.md): run-job on a process work pool served by two
workers, with the job variables of prefect.yaml. Runs spread over both; one worker is killed while
a run it started is running. That run still ends well (its process does not write through the dead
worker), the other worker takes every new run and those the killed one had claimed but not
started: every run completes, each job submitted once. When a host dies with its worker and a run's
process, the run that stopped sending heartbeats is marked Crashed, and retried it finds its job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import run_deployment
from prefect.states import Scheduled

from heroes.flows import run_job_granted
from heroes_core.jobs import job_key
from heroes_core.models import UserArea
from tests.integration.conftest import ROOT
from tests.integration.grants import granted
from tests.integration.processes import stop

pytestmark = pytest.mark.integration


def declared_job_variables(deployment: str) -> dict[str, Any]:
    """What prefect.yaml gives a deployment's runs on the production pool."""
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    return dict(next(d for d in declared if d["name"] == deployment)["work_pool"]["job_variables"])


class Pool:
    """A uniquely named process work pool with run-job deployed on it, as `prefect deploy` does
    (its runs' environment ``env`` when given)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.name, self.deployment = f"heroes-two-{suffix}", f"run-job-{suffix}"
        self.job_variables = declared_job_variables("run-job") | ({"env": env} if env else {})

    def __enter__(self) -> Pool:
        with get_client(sync_client=True) as client:
            client.create_work_pool(WorkPoolCreate(name=self.name, type="process"))
            client.create_deployment(
                flow_id=client.create_flow_from_name(run_job_granted.name), name=self.deployment,
                entrypoint="flows/user/entry.py:run_job_granted", work_pool_name=self.name, path=None,
                tags=["heroes", "user"], job_variables=self.job_variables,
                pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}])
        return self

    def __exit__(self, *_: object) -> None:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(f"{run_job_granted.name}/{self.deployment}")
            client.delete_deployment(deployment.id)
            client.delete_work_pool(self.name)

    def launch(self, image: dict[str, str], user: str, seconds: int) -> UUID:
        spec = {"image": image, "command": ["sh", "-c", f"sleep {seconds}; echo ok > ok.txt"],
                "time_limit_minutes": 5}
        name = f"{run_job_granted.name}/{self.deployment}"
        parameters = granted({"spec": spec, "wait_in_process_s": None}, user, deployment=name)
        return run_deployment(name, parameters=parameters, timeout=0).id


@pytest.fixture
def pool(blocks: dict[str, str]) -> Iterator[Pool]:
    """The pool, with the automation that gives a dead worker's claimed runs to another one acting
    after 90 s (5 minutes in production) while the test runs. Not less: six flow-run processes
    starting at once on a loaded 2-core test bed can stay Pending for over 20 s, and a run the
    automation moved while its process was still starting would be run by two processes."""
    from heroes.deployments.automations import ensure_wait_automations

    ensure_wait_automations(stranded_after=timedelta(seconds=90))
    try:
        with Pool() as made:
            yield made
    finally:
        ensure_wait_automations()


@pytest.fixture
def beating_pool(blocks: dict[str, str]) -> Iterator[Pool]:
    """A pool whose runs send a heartbeat every 30 s (Prefect's least; 60 s in production), with the
    automation that crashes a silent run acting after 75 s (5 minutes in production) while the test
    runs."""
    from heroes.deployments.automations import ensure_wait_automations

    ensure_wait_automations(silent_after=timedelta(seconds=75))
    try:
        with Pool(env={"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}) as made:
            yield made
    finally:
        ensure_wait_automations()


#: Runs one worker holds at once, as a production worker's `--limit` sets: with six runs launched, a
#: worker that polls first cannot take them all, so both are seen serving runs before one is killed.
RUNS_PER_WORKER = 3


def worker(pool: Pool, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_HEARTBEAT_SECONDS": "5"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool.name,
                                 "--type", "process", "--name", name, "--limit", str(RUNS_PER_WORKER)],
                                cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def ran_by(log: Path, runs: list[UUID]) -> set[UUID]:
    """The runs a worker's log says it submitted (and did not give up because another had)."""
    lines = log.read_text(errors="replace").splitlines()
    return {run for run in runs if any(f"submitting flow run '{run}'" in line for line in lines)
            and not any(f"Aborted submission of flow run '{run}'" in line for line in lines)}


def running(runs: set[UUID]) -> set[UUID]:
    with get_client(sync_client=True) as client:
        return {run for run in runs if (state := client.read_flow_run(run).state) is not None
                and state.is_running()}


def processes_of(run: UUID) -> list[int]:
    """The processes running ``run`` (the worker gives each the run's id in its environment)."""
    marker = f"PREFECT__FLOW_RUN_ID={run}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


def final_state(run: UUID, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(run).state
            if state is not None and state.is_final():
                return state
            time.sleep(1)
    raise AssertionError(f"run {run} did not end in {seconds} s")


def test_two_workers_share_the_runs_and_one_killed_loses_none(pool: Pool, site: Any, image: dict[str, str],
                                                             tmp_path: Path) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}
    workers = {name: worker(pool, name, log) for name, log in logs.items()}
    try:
        first = [pool.launch(image, user, seconds=12) for _ in range(6)]
        deadline = time.monotonic() + 120
        while not (all(ran_by(log, first) for log in logs.values()) and running(ran_by(logs["w1"], first))):
            assert time.monotonic() < deadline, {n: ran_by(log, first) for n, log in logs.items()}
            time.sleep(0.5)
        orphans = running(ran_by(logs["w1"], first))
        os.kill(workers["w1"].pid, signal.SIGKILL)  # the worker only: the runs it started go on
        workers["w1"].wait()
        later = [pool.launch(image, user, seconds=2) for _ in range(3)]
        for run in first + later:
            state = final_state(run, 300)
            assert state.is_completed(), (run, state.name, state.message)
        assert set(later) <= ran_by(logs["w2"], later)  # the survivor took every new run
        assert not orphans & ran_by(logs["w2"], first)  # ...but not those running: they went on alone
        for run in first + later:  # each run's job was submitted exactly once
            assert len(site.scheduler.find(job_key(str(run), owner=UserArea(organisation="itest", user=user)))) == 1
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                stop(proc)


def test_a_run_whose_host_died_is_crashed_and_retried_finds_its_job(beating_pool: Pool, site: Any,
                                                                    image: dict[str, str], tmp_path: Path) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    workers = [worker(beating_pool, "w1", tmp_path / "w1.log")]
    run = beating_pool.launch(image, user, seconds=100)
    key = job_key(str(run), owner=UserArea(organisation="itest", user=user))
    try:
        deadline = time.monotonic() + 120
        while not site.scheduler.find(key):  # the run is past its submission
            assert time.monotonic() < deadline, f"run {run} submitted no job in 120 s"
            time.sleep(1)
        os.kill(workers[0].pid, signal.SIGKILL)  # the host dies: its worker, which could report the run...
        workers[0].wait()
        doomed = processes_of(run)
        assert doomed, f"no process runs {run}"
        for pid in doomed:  # ...and the run's process, which would have gone on without it
            os.kill(pid, signal.SIGKILL)
        state = final_state(run, 240)
        assert state.is_crashed() and "heartbeat" in (state.message or ""), (state.name, state.message)

        with get_client(sync_client=True) as client:  # what the UI's Retry does
            client.set_flow_run_state(run, Scheduled(name="AwaitingRetry"), force=True)
        workers.append(worker(beating_pool, "w2", tmp_path / "w2.log"))
        state = final_state(run, 300)
        assert state.is_completed(), (state.name, state.message)
        assert len(site.scheduler.find(key)) == 1  # the retry found the job rather than submitting another
    finally:
        for proc in workers:
            if proc.poll() is None:
                stop(proc)
        site.scheduler.cancel(site.scheduler.find(key))  # a failed test leaves no job behind
