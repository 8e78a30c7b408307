"""The heroes-slurm worker against a scripted centre: the batch script it renders, what it asks
of sbatch, one job per flow run attempt, how a Slurm job's end becomes the flow run's result,
and cancelling (only) the flow run's own job."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import InfrastructureNotAvailable, InfrastructureNotFound
from pydantic import ValidationError

from heroes.workers import SlurmJobConfiguration, SlurmWorker
from heroes.workers._batch import flow_job_key, render_script
from heroes_core.schedulers import SlurmScheduler
from heroes_core.sites import Site, SiteConfig, open_site
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

RUN_ID = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e7f-901234567890")
KEY = f"heroes-flow-{RUN_ID}-0"


def flow_run(run_count: int = 0) -> FlowRun:
    return FlowRun(id=RUN_ID, flow_id=uuid.uuid4(), name="brave-otter", run_count=run_count)


def configuration(**values: Any) -> SlurmJobConfiguration:
    config = SlurmJobConfiguration(centre="hpc1", **values)
    config.prepare_for_flow_run(flow_run())
    return config


def slurm_site(transport: ScriptedTransport) -> Site:
    site = open_site(SiteConfig(name="hpc1", host="h", user="svc", work_root="/w", transport="local",
                                partitions=("debug", "batch")))
    site.transport = transport
    site.scheduler = SlurmScheduler(transport)
    return site


def centre(*, found: str = "", queue: list[str] | None = None, accounting: str = "") -> ScriptedTransport:
    """A centre whose ``find`` answers ``found``, whose squeue answers each of ``queue`` in turn
    (the last one for ever) and whose accounting answers ``accounting``."""
    rounds = list(queue or [""])

    def epoch(argv: list[str], stdin: bytes | None) -> Any:  # squeue/sacct with epoch times
        if argv[2] == "squeue":
            return ok(argv, rounds.pop(0) if len(rounds) > 1 else rounds[0])
        return ok(argv, accounting)
    return ScriptedTransport({"squeue": found, "sacct": found, "sbatch": "57\n", "env": epoch})


class Worker(SlurmWorker):
    """The worker with its centre and the flow run's API state given by the test."""

    type = "heroes-slurm-under-test"  # Prefect registers worker classes by type

    def __init__(self, transport: ScriptedTransport, states: Callable[[], StateType | None] = lambda: None
                 ) -> None:
        super().__init__(work_pool_name="pool")
        self.site = slurm_site(transport)
        self.states = states
        self.crashed: list[str] = []
        self.cancelled: list[str] = []
        self.logged: list[str] = []

    def get_flow_run_logger(self, flow_run: FlowRun) -> Any:
        """The run's log lines, kept here: unit tests send nothing to a Prefect API."""
        worker = self

        class Lines:
            def __getattr__(self, level: str) -> Callable[[str], None]:
                return lambda message, *args, **kwargs: worker.logged.append(f"{level}: {message}")
        return Lines()

    async def open_site(self, configuration: SlurmJobConfiguration) -> Site:
        return self.site

    async def flow_run_state(self, flow_run_id: uuid.UUID) -> StateType | None:
        return self.states()

    async def _propose_crashed_state(self, flow_run: FlowRun, message: str, client: Any = None) -> None:
        self.crashed.append(message)

    async def _mark_flow_run_as_cancelled(self, flow_run: FlowRun,
                                          state_updates: dict[str, Any] | None = None) -> None:
        self.cancelled.append((state_updates or {}).get("message", ""))

    async def _read(self, run_id: uuid.UUID) -> FlowRun:
        return flow_run()


def run(worker: Worker, config: SlurmJobConfiguration) -> Any:
    started: list[Any] = []

    class Status:
        def started(self, value: Any = None) -> None:
            started.append(value)

    async def main() -> Any:
        worker.client.read_flow_run = worker._read  # type: ignore[method-assign]
        return await worker.run(flow_run(), config, task_status=Status())  # type: ignore[arg-type]

    result = anyio.run(_with_client(worker, main))
    return result, started


def _with_client(worker: Worker, main: Callable[[], Any]) -> Callable[[], Any]:
    async def wrapped() -> Any:
        class Client:
            pass
        worker._client = Client()  # type: ignore[assignment]
        return await main()
    return wrapped


def test_prefect_finds_the_worker_type_by_name_through_the_entry_point() -> None:
    probe = ("from prefect.workers.base import BaseWorker\n"
             "cls = BaseWorker.get_worker_class_from_type('heroes-slurm')\n"
             "print(cls.__module__, cls.__name__)\n")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["heroes.workers.slurm", "SlurmWorker"]


def test_the_script_exports_every_value_exactly_and_runs_the_command_as_one_program(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tricky = {"QUOTED": "it's \"quoted\" $(touch pwned) `id`; exit 3", "LINES": "a\nb", "EMPTY": ""}
    script = render_script(tricky, "printenv QUOTED LINES EMPTY", flow_run_id=str(RUN_ID))
    ran = subprocess.run(["sh"], input=script.encode(), capture_output=True, cwd=tmp_path, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.decode() == f"{tricky['QUOTED']}\na\nb\n\n"
    assert not (tmp_path / "pwned").exists()


def test_a_command_with_shell_operators_runs_them_as_plain_arguments(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = render_script({}, "echo one; touch pwned && echo $HOME", flow_run_id=str(RUN_ID))
    ran = subprocess.run(["sh"], input=script.encode(), capture_output=True, cwd=tmp_path, check=False)
    assert ran.stdout.decode() == "one; touch pwned && echo $HOME\n"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("env", [{"BAD-NAME": "x"}, {"1X": "x"}, {"X": "a\x00b"}])
def test_environment_a_shell_cannot_hold_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        render_script(env, "true", flow_run_id=str(RUN_ID))


def test_prepared_for_a_flow_run_it_carries_prefect_environment_key_and_centre_python() -> None:
    config = configuration(python="/opt/py/bin/python3", env={"EXTRA": "1"})
    assert config.env["PREFECT__FLOW_RUN_ID"] == str(RUN_ID)
    assert config.env["EXTRA"] == "1"
    assert config.command == "/opt/py/bin/python3 -m prefect flow-run execute"
    assert config.job_key == KEY
    script = config.script(str(RUN_ID))
    assert f"export PREFECT__FLOW_RUN_ID={RUN_ID}" in script.splitlines()
    assert script.splitlines()[-1] == "exec /opt/py/bin/python3 -m prefect flow-run execute"


def test_a_command_the_deployment_gives_is_kept() -> None:
    assert configuration(command="python -m prefect.engine").command == "python -m prefect.engine"


def test_each_attempt_of_a_flow_run_is_its_own_job_name() -> None:
    assert flow_job_key(str(RUN_ID), 0) == KEY != flow_job_key(str(RUN_ID), 1)


@pytest.mark.parametrize("values", [
    {"extra_options": ["--wrap=rm"]}, {"extra_options": ["--account=a;rm"]},
    {"extra_options": ["--output=/tmp/x"]}, {"extra_options": ["--account", "x"]},
    {"working_dir": "/w/../etc"}, {"working_dir": "w/rel"}, {"working_dir": "/w/a b"},
    {"python": "python3 -c 'import os'"}, {"python": "../python"}, {"partition": "a,b"},
])
def test_job_variables_that_could_reach_a_shell_or_the_workers_own_options_are_refused(
        values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SlurmJobConfiguration(centre="hpc1", **values)


def test_the_resources_asked_and_the_script_reach_sbatch() -> None:
    transport = centre(accounting="57|COMPLETED|0:0|None|1|2|3")
    config = configuration(partition="batch", cores=4, nodes=2, memory_mb=2048, time_limit_minutes=30,
                           extra_options=["--account=proj1", "--exclusive"], poll_interval_seconds=0)
    run(Worker(transport), config)
    (sbatch,) = [call for call in transport.calls if call[0] == "sbatch"]
    assert {"--cpus-per-task=4", "--nodes=2", "--mem=2048M", "--time=30", "--partition=batch",
            f"--job-name={KEY}", f"--chdir=/w/_flows/{RUN_ID}", "--account=proj1",
            "--exclusive"} <= set(sbatch)
    assert ["mkdir", "-p", "--", f"/w/_flows/{RUN_ID}"] in transport.calls
    script = transport.stdins[transport.calls.index(sbatch)]
    assert script is not None and f"export PREFECT__FLOW_RUN_ID={RUN_ID}" in script.decode()


def test_a_job_already_carrying_the_key_is_followed_not_submitted_again() -> None:
    transport = centre(found="41\n", accounting="41|COMPLETED|0:0|None|1|2|3")
    result, started = run(Worker(transport), configuration(poll_interval_seconds=0))
    assert "sbatch" not in transport.programs()
    assert started == ["hpc1:41"] and result.identifier == "hpc1:41"


def test_a_completed_job_is_a_successful_result_with_the_job_as_identifier() -> None:
    transport = centre(queue=["57|RUNNING|None|1|2", ""], accounting="57|COMPLETED|0:0|None|1|2|3")
    worker = Worker(transport)
    result, started = run(worker, configuration(poll_interval_seconds=0))
    assert started == ["hpc1:57"]
    assert (result.status_code, result.identifier, bool(result)) == (0, "hpc1:57", True)
    assert worker.crashed == []


def test_a_job_slurm_ended_before_the_engine_reported_crashes_the_run_with_slurms_state_and_reason() -> None:
    transport = centre(accounting="57|TIMEOUT|0:15|TimeLimit|1|2|3")
    worker = Worker(transport)
    result, _ = run(worker, configuration(poll_interval_seconds=0))
    assert result.status_code == 143 and not result
    (message,) = worker.crashed
    assert "Slurm job 57 on hpc1 ended TIMEOUT" in message and "time limit" in message
    assert "TimeLimit" in message
    assert any(line.startswith("error: Slurm job 57 on hpc1 ended TIMEOUT") for line in worker.logged)


def test_a_failed_job_whose_run_already_failed_is_not_reported_crashed() -> None:
    transport = centre(accounting="57|FAILED|1:0|None|1|2|3")
    worker = Worker(transport, states=lambda: StateType.FAILED)
    result, _ = run(worker, configuration(poll_interval_seconds=0))
    assert result.status_code == 1 and worker.crashed == []


def test_a_cancelled_run_whose_job_lingers_is_cancelled_in_slurm_and_marked_cancelled() -> None:
    transport = centre(queue=["57|RUNNING|None|1|2", "57|RUNNING|None|1|2", ""],
                       accounting="57|CANCELLED by 0|0:15|None|1|2|3")
    worker = Worker(transport, states=lambda: StateType.CANCELLING)
    run(worker, configuration(poll_interval_seconds=0, cancel_grace_seconds=0))
    assert ["scancel", "57"] in transport.calls
    assert len(worker.cancelled) == 1 and "CANCELLED" in worker.cancelled[0]
    assert worker.crashed == []


def test_a_run_that_is_not_cancelled_never_scancels_its_job() -> None:
    transport = centre(queue=["57|RUNNING|None|1|2", ""], accounting="57|COMPLETED|0:0|None|1|2|3")
    run(Worker(transport, states=lambda: StateType.RUNNING),
        configuration(poll_interval_seconds=0, cancel_grace_seconds=0))
    assert "scancel" not in transport.programs()


def kill(worker: Worker, pid: str, config: SlurmJobConfiguration | None = None) -> None:
    anyio.run(lambda: worker.kill_infrastructure(pid, config or configuration()))


def test_kill_cancels_the_runs_job_in_slurm() -> None:
    transport = centre(found="57\n", queue=["57|PENDING|Priority|1|0"])
    kill(Worker(transport), "hpc1:57")
    assert ["scancel", "57"] in transport.calls


def test_kill_of_a_job_that_is_not_the_runs_is_infrastructure_not_found_and_cancels_nothing() -> None:
    transport = centre(found="", queue=["99|RUNNING|None|1|2"])
    with pytest.raises(InfrastructureNotFound):
        kill(Worker(transport), "hpc1:99")
    assert "scancel" not in transport.programs()


def test_kill_of_a_finished_job_is_infrastructure_not_found() -> None:
    transport = centre(found="57\n", accounting="57|COMPLETED|0:0|None|1|2|3")
    with pytest.raises(InfrastructureNotFound):
        kill(Worker(transport), "hpc1:57")
    assert "scancel" not in transport.programs()


def test_kill_of_a_job_on_another_centre_is_not_available_here() -> None:
    transport = centre(found="57\n")
    with pytest.raises(InfrastructureNotAvailable):
        kill(Worker(transport), "other:57")
    assert transport.calls == []
