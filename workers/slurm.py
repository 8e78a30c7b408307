"""The ``heroes-slurm`` worker: each flow run of its work pool runs as one Slurm job on a
registered centre (an :class:`~heroes.blocks.HPCCentre` block).

The counterpart of prefect-aws's ECS worker for HPC: the worker renders a batch script that
exports the environment Prefect gives the run and starts Prefect's flow-run executor, submits
it through the centre's Slurm over SSH, reports ``<centre>:<job id>`` as the run's
infrastructure pid, and follows the job with one status query per poll until it ends.

Cancellation has two paths, as Prefect's own workers have. A run that has started is cancelled
by the executor inside the job (``prefect flow-run execute`` watches for it, stops the engine
and marks the run cancelled); should the job outlive that by ``cancel_grace_seconds``, the
worker cancels the Slurm job itself. A run still queued in Slurm is cancelled by
:meth:`SlurmWorker.kill_infrastructure`, which Prefect calls for never-started runs.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.abc
from prefect.client.schemas.objects import StateType
from prefect.exceptions import InfrastructureNotAvailable, InfrastructureNotFound
from prefect.workers.base import BaseJobConfiguration, BaseVariables, BaseWorker, BaseWorkerResult
from pydantic import Field, PrivateAttr, field_validator

from heroes.blocks import HPCCentre
from heroes.workers._batch import (
    DIRECTORY_PATTERN,
    PYTHON_PATTERN,
    SlurmWithOptions,
    check_directory,
    check_extra_option,
    describe,
    exit_status,
    flow_job_key,
    render_script,
)
from heroes_core.errors import HeroesError, SpecError
from heroes_core.jobs import submit_once
from heroes_core.models import NAME_PATTERN, JobState, JobStatus
from heroes_core.schedulers import JobSubmission, SlurmScheduler
from heroes_core.sites import Site

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.client.schemas.objects import APIFlow, FlowRun, WorkPool
    from prefect.client.schemas.responses import DeploymentResponse

#: Where a flow run's job directory goes by default, below the centre's work root. Not an
#: organisation's name, so HEROES' retention (which walks <org>/<user>/<key>) never lists it.
FLOWS_DIR = "_flows"
#: Consecutive polls a job may be unseen (accounting lags behind the queue) or the centre may
#: not answer before the worker gives up following it; the run's state is then left to Prefect.
MAX_BLIND_POLLS = 60


class SlurmJobConfiguration(BaseJobConfiguration):
    """One flow run's Slurm job, as the work pool's template and the deployment render it."""

    centre: str = Field(description="Name of the HPCCentre block of the centre the flow runs on.")
    partition: str | None = Field(default=None, pattern=NAME_PATTERN,
                                  description="Slurm partition; None: the centre's default.")
    cores: int = Field(default=1, ge=1, le=4096, description="CPU cores for the flow run.")
    nodes: int = Field(default=1, ge=1, le=1024, description="Nodes for the flow run.")
    memory_mb: int | None = Field(default=None, ge=1, description="Memory in MiB; None: Slurm's default.")
    time_limit_minutes: int = Field(default=60, ge=1, le=60 * 24 * 365,
                                    description="Slurm time limit: the job is stopped past it.")
    python: str = Field(default="python3", pattern=PYTHON_PATTERN,
                        description="Python on the centre's compute nodes with Prefect installed.")
    working_dir: str | None = Field(default=None, pattern=DIRECTORY_PATTERN,
                                    description="Job directory on the centre (output goes there); "
                                                "None: <work_root>/_flows/<flow run id>.")
    extra_options: list[str] = Field(default_factory=list,
                                     description="Extra sbatch options, --name=value.")
    poll_interval_seconds: float = Field(default=5.0, ge=0, le=600,
                                         description="First wait between two status queries; it "
                                                     "grows to max_poll_interval_seconds.")
    max_poll_interval_seconds: float = Field(default=60.0, ge=0, le=3600,
                                             description="Longest wait between two status queries.")
    cancel_grace_seconds: float = Field(default=30.0, ge=0, le=3600,
                                        description="How long a cancelled run's job may go on "
                                                    "before the worker cancels it in Slurm.")

    _job_key: str | None = PrivateAttr(default=None)
    _command_given: bool = PrivateAttr(default=False)

    @field_validator("extra_options")
    @classmethod
    def _options_are_allowed(cls, options: list[str]) -> list[str]:
        return [check_extra_option(option) for option in options]

    @field_validator("working_dir")
    @classmethod
    def _directory_is_plain(cls, path: str | None) -> str | None:
        return None if path is None else check_directory(path)

    def prepare_for_flow_run(self, flow_run: FlowRun, deployment: DeploymentResponse | None = None,
                             flow: APIFlow | None = None, work_pool: WorkPool | None = None,
                             worker_name: str | None = None, worker_id: UUID | None = None) -> None:
        """Prefect's environment and labels, the job's key, and the command on the centre's Python.

        Prefect's default command starts its executor through a ``prefect`` program that a
        centre's PATH may not have; ``<python> -m prefect`` is the same executor on the
        interpreter this configuration names.
        """
        self._command_given = self.command is not None
        super().prepare_for_flow_run(flow_run, deployment, flow, work_pool, worker_name, worker_id)
        if not self._command_given:
            self.command = f"{self.python} -m prefect flow-run execute"
        self._job_key = flow_job_key(str(flow_run.id), flow_run.run_count)

    @property
    def job_key(self) -> str:
        if self._job_key is None:
            raise RuntimeError("the configuration has not been prepared for a flow run")
        return self._job_key

    def job_dir(self, site: Site, flow_run_id: str) -> str:
        return self.working_dir or f"{site.config.work_root.rstrip('/')}/{FLOWS_DIR}/{flow_run_id}"

    def script(self, flow_run_id: str) -> str:
        return render_script(self.env, self.command or "", flow_run_id=flow_run_id)


class SlurmVariables(BaseVariables):
    """What a work pool's template and a deployment's job variables may set."""

    centre: str = Field(description="Name of the HEROES HPC Centre block the flow runs run on.")
    partition: str | None = Field(default=None, pattern=NAME_PATTERN,
                                  description="Slurm partition (queue); empty: the centre's default.")
    cores: int = Field(default=1, ge=1, le=4096, description="CPU cores of the Slurm job.")
    nodes: int = Field(default=1, ge=1, le=1024, description="Nodes of the Slurm job.")
    memory_mb: int | None = Field(default=None, ge=1,
                                  description="Memory of the Slurm job in MiB; empty: Slurm's default.")
    time_limit_minutes: int = Field(default=60, ge=1, le=60 * 24 * 365,
                                    description="Slurm time limit in minutes; the job is stopped past "
                                                "it and the flow run reported crashed.")
    python: str = Field(default="python3", pattern=PYTHON_PATTERN,
                        description="Python on the centre's compute nodes that has Prefect (the same "
                                    "minor version as the server's clients) and the flow's "
                                    "dependencies: a program name on PATH or an absolute path.")
    working_dir: str | None = Field(default=None, pattern=DIRECTORY_PATTERN,
                                    description="Directory on the centre the job runs in and writes "
                                                "its output to; empty: <work_root>/_flows/<flow run id>.")
    extra_options: list[str] = Field(
        default_factory=list,
        description=("Extra sbatch options as --name=value (or --exclusive), each checked: one of "
                     "--account, --qos, --constraint, --reservation, --exclusive, --licenses, "
                     "--mail-type, --mail-user, --nice, --gres, --hint; values of letters, digits "
                     "and _.,:@%+=/- only."))
    poll_interval_seconds: float = Field(default=5.0, ge=0, le=600,
                                         description="Seconds between the first status queries; "
                                                     "the wait grows while nothing changes.")
    max_poll_interval_seconds: float = Field(default=60.0, ge=0, le=3600,
                                             description="Longest wait between two status queries "
                                                         "of one job, in seconds.")
    cancel_grace_seconds: float = Field(default=30.0, ge=0, le=3600,
                                        description="Seconds a cancelled flow run's job may go on "
                                                    "(while Prefect stops the flow inside it) "
                                                    "before the worker cancels the Slurm job.")


class SlurmWorkerResult(BaseWorkerResult):
    """The Slurm job's end: ``identifier`` is ``<centre>:<job id>``."""


class SlurmWorker(BaseWorker[SlurmJobConfiguration, SlurmVariables, SlurmWorkerResult]):
    """Runs each flow run of its work pool as a Slurm job on a HEROES centre."""

    type = "heroes-slurm"
    job_configuration = SlurmJobConfiguration
    job_configuration_variables = SlurmVariables
    _description = ("Run whole Python flows as Slurm jobs on a HEROES HPC centre (an HPCCentre "
                    "block), reached over SSH.")
    _documentation_url = "https://heroes-project.eu/docs/#whole-python-flows-on-a-cluster-heroes-slurm-worker"
    _logo_url = "https://heroes-project.eu/docs/logos/hpc_centre.png"

    async def open_site(self, configuration: SlurmJobConfiguration) -> Site:
        """The centre the configuration names, refused unless it runs Slurm."""
        centre = cast(HPCCentre, await HPCCentre.aload(configuration.centre))
        site = await anyio.to_thread.run_sync(centre.site)
        if not isinstance(site.scheduler, SlurmScheduler):
            raise SpecError(f"the heroes-slurm worker needs a Slurm centre; this one's scheduler is "
                            f"'{site.scheduler.name}'", site=site.name,
                            fix="point the work pool's 'centre' at a centre block with scheduler slurm")
        return site

    async def flow_run_state(self, flow_run_id: UUID) -> StateType | None:
        """The run's state type as the API has it now (one request)."""
        run = await self.client.read_flow_run(flow_run_id)
        return run.state.type if run.state else None

    async def run(self, flow_run: FlowRun, configuration: SlurmJobConfiguration,
                  task_status: anyio.abc.TaskStatus[Any] | None = None) -> SlurmWorkerResult:
        logger = self.get_flow_run_logger(flow_run)
        site = await self.open_site(configuration)
        job_id, reused = await anyio.to_thread.run_sync(self._submit, site, configuration, str(flow_run.id))
        pid = f"{configuration.centre}:{job_id}"
        logger.info(f"{'Found' if reused else 'Submitted'} Slurm job {job_id} ({configuration.job_key}) "
                    f"on {configuration.centre} for flow run {flow_run.name!r}; output: "
                    f"{site.scheduler.output_path(configuration.job_dir(site, str(flow_run.id)), job_id)}")
        if task_status is not None:
            task_status.started(pid)
        status = await self._follow(site, job_id, flow_run, configuration)
        code = exit_status(status)
        await self._report_end(flow_run, configuration, status, code)
        return SlurmWorkerResult(identifier=pid, status_code=code)

    def _submit(self, site: Site, configuration: SlurmJobConfiguration, flow_run_id: str) -> tuple[str, bool]:
        """Submit the run's job unless a job with its key exists (then that job is the run's)."""
        self._check_limits(site, configuration)
        job_dir = configuration.job_dir(site, flow_run_id)
        made = site.transport.run(["mkdir", "-p", "--", job_dir])
        if not made.ok:
            raise SpecError(f"cannot create {job_dir}: {made.describe()}", site=site.name,
                            fix="check working_dir, or that work_root belongs to the service account")
        assert isinstance(site.scheduler, SlurmScheduler)  # open_site refused anything else
        slurm = dataclasses.replace(site, scheduler=SlurmWithOptions(site.scheduler,
                                                                     configuration.extra_options))
        submission = JobSubmission(
            key=configuration.job_key, job_dir=job_dir, script=configuration.script(flow_run_id),
            partition=configuration.partition or site.config.default_partition,
            cores=configuration.cores, nodes=configuration.nodes, memory_mb=configuration.memory_mb,
            time_limit_minutes=configuration.time_limit_minutes)
        result = submit_once(slurm, submission)
        return result.job_id, result.reused

    @staticmethod
    def _check_limits(site: Site, configuration: SlurmJobConfiguration) -> None:
        """The centre's limits and partitions, checked before anything is submitted."""
        limits = site.config.limits
        for asked, limit, what in ((configuration.cores, limits.max_cores_per_job, "cores"),
                                   (configuration.nodes, limits.max_nodes_per_job, "nodes"),
                                   (configuration.time_limit_minutes, limits.max_time_limit_minutes,
                                    "minutes of time limit")):
            if asked > limit:
                raise SpecError(f"the flow run asks for {asked} {what}; this centre allows {limit}",
                                site=site.name, fix=f"set the job variable to at most {limit}")
        partition = configuration.partition
        allowed = site.config.partitions
        if partition and allowed and partition not in allowed:
            raise SpecError(f"partition '{partition}' is not offered to HEROES", site=site.name,
                            fix=f"choose one of: {', '.join(allowed)}")

    async def _follow(self, site: Site, job_id: str, flow_run: FlowRun,
                      configuration: SlurmJobConfiguration) -> JobStatus:
        """Poll the job until it ends: one Slurm query and one API read per round, the wait
        growing while nothing changes; cancel the job if its run was cancelled and it lingers."""
        logger = self.get_flow_run_logger(flow_run)
        delay = configuration.poll_interval_seconds
        last: JobStatus | None = None
        blind = 0
        cancel_seen: float | None = None
        cancelled_by_worker = False
        while True:
            try:
                status = (await anyio.to_thread.run_sync(site.scheduler.query, [job_id]))[job_id]
            except HeroesError as exc:
                status = JobStatus(job_id=job_id, state=JobState.UNKNOWN, reason=str(exc))
            if status.state.is_final:
                return status
            if last is None or (status.state, status.reason) != (last.state, last.reason):
                logger.info(f"Slurm job {job_id}: {status.state.value} ({status.reason})")
                delay = configuration.poll_interval_seconds
            last = status
            blind = blind + 1 if status.state is JobState.UNKNOWN else 0
            if blind >= MAX_BLIND_POLLS:
                raise HeroesError(f"Slurm job {job_id} has not been seen for {blind} polls: "
                                  f"{status.reason}", site=site.name,
                                  fix="check the centre's accounting (sacct) and its login node")
            state = await self.flow_run_state(flow_run.id)
            if state in (StateType.CANCELLING, StateType.CANCELLED) and not cancelled_by_worker:
                cancel_seen = cancel_seen if cancel_seen is not None else time.monotonic()
                if time.monotonic() - cancel_seen >= configuration.cancel_grace_seconds:
                    logger.warning(f"Flow run cancelled but Slurm job {job_id} is still "
                                   f"{status.state.value}: cancelling it in Slurm")
                    await anyio.to_thread.run_sync(site.scheduler.cancel, [job_id])
                    cancelled_by_worker = True
                    delay = configuration.poll_interval_seconds
            await anyio.sleep(delay)
            delay = min(delay * 1.5, configuration.max_poll_interval_seconds)

    async def _report_end(self, flow_run: FlowRun, configuration: SlurmJobConfiguration,
                          status: JobStatus, code: int) -> None:
        """Say in the run's logs how its job ended; where the engine could not (Slurm stopped it
        first), report the run crashed with Slurm's state and reason, or cancelled if it was
        being cancelled."""
        logger = self.get_flow_run_logger(flow_run)
        line = describe(status, configuration.centre)
        state = await self.flow_run_state(flow_run.id)
        if state == StateType.CANCELLING:
            await self._mark_flow_run_as_cancelled(
                await self.client.read_flow_run(flow_run.id),
                state_updates={"message": f"Cancelled: {line}"})
            logger.info(f"{line}; flow run marked cancelled")
        elif code == 0:
            logger.info(line)
        elif state is not None and StateType(state) in _FINAL:
            logger.info(f"{line}; the flow run had reported {state.value} already")
        else:
            logger.error(f"{line}. The flow run's engine reported no final state: reporting it crashed")
            await self._propose_crashed_state(flow_run, f"{line} (exit status {code})")

    async def kill_infrastructure(self, infrastructure_pid: str, configuration: SlurmJobConfiguration,
                                  grace_seconds: int = 30) -> None:
        """``scancel`` the flow run's Slurm job (Slurm sends SIGTERM, then SIGKILL after its own
        KillWait; ``grace_seconds`` is not Slurm's to take).

        Only a job that carries this flow run's key is cancelled: every tenant's jobs run under
        the centre's one service account, and a pid is just text in the API.
        """
        centre, _, job_id = infrastructure_pid.rpartition(":")
        if centre != configuration.centre:
            raise InfrastructureNotAvailable(
                f"infrastructure pid {infrastructure_pid!r} is not a job of centre "
                f"{configuration.centre!r}, which this flow run's configuration names")
        site = await self.open_site(configuration)

        def cancel() -> None:
            if job_id not in site.scheduler.find(configuration.job_key):
                raise InfrastructureNotFound(f"no Slurm job {job_id} named {configuration.job_key} "
                                             f"on {centre}")
            status = site.scheduler.query([job_id])[job_id]
            if status.state.is_final:
                raise InfrastructureNotFound(f"Slurm job {job_id} on {centre} has already ended "
                                             f"({status.native_state or status.state.value})")
            site.scheduler.cancel([job_id])

        await anyio.to_thread.run_sync(cancel)


_FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
