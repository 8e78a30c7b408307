"""Slurm through its command-line tools, over any transport.

One ``squeue`` per poll round covers every live job of the service account, and
at most one ``sacct`` (bounded by a start time) covers the jobs that left the
queue, so the cost of a poll does not grow with the number of commands.

Slurm prints times as the centre's local wall clock, whose zone the orchestrator
does not know. So times are asked for as seconds since the epoch
(``SLURM_TIME_FORMAT=%s``, honoured by squeue and sacct) and returned as aware UTC
datetimes, and the ``sacct`` window is given relative to the centre's own clock
(``now-N seconds``), never as a wall-clock date.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

from heroes_core.errors import SchedulerError
from heroes_core.models import JobState, JobStatus
from heroes_core.schedulers._base import JobSubmission, Scheduler, SiteLoad, UsageRecord, require_key
from heroes_core.schedulers._slurm_accounting import (
    EPOCH_TIMES,
    JOB_ID,
    exit_code,
    parse_sacct_usage,
    sacct_usage_argv,
    slurm_time,
)
from heroes_core.schedulers._slurm_states import map_slurm_state
from heroes_core.transport import Transport

SQUEUE_FORMAT = "%i|%T|%r|%V|%S"
SACCT_FIELDS = "JobIDRaw,State,ExitCode,Reason,Submit,Start,End"
# squeue and sacct print every time as seconds since the epoch under this variable.
# How much further back than asked sacct looks: clock skew between the orchestrator and the
# centre, and jobs that had already finished when they were first tracked.
SINCE_MARGIN = timedelta(hours=1)


def gres_gpu(gpus: int, gpu_type: str | None) -> str:
    """``--gres=gpu[:TYPE]:N``: N GPUs on each node of the job (``--gres`` counts per node,
    as ``JobSpec.gpus`` does; ``--gpus`` would count for the whole job)."""
    return f"--gres=gpu:{gpu_type}:{gpus}" if gpu_type else f"--gres=gpu:{gpus}"


class SlurmScheduler(Scheduler):
    """``sbatch --parsable``, ``squeue``, ``sacct`` and ``scancel``."""

    name = "slurm"
    commands = ("sbatch", "squeue", "sacct", "scancel", "sinfo")
    gives_gpus = True

    def __init__(self, transport: Transport, *, history_days: int = 30) -> None:
        super().__init__(transport)
        self.history_days = history_days

    # -- submit -----------------------------------------------------------------------------

    def submit_argv(self, submission: JobSubmission) -> list[str]:
        """sbatch options as separate arguments: never parsed by a shell or as #SBATCH lines."""
        argv = [
            "sbatch", "--parsable",
            f"--job-name={submission.key}",
            f"--comment=heroes:{submission.key}",
            f"--chdir={submission.job_dir}",
            f"--output={submission.job_dir}/slurm-%j.out",
            f"--error={submission.job_dir}/slurm-%j.out",
            f"--time={submission.time_limit_minutes}",
            f"--nodes={submission.nodes}",
            "--ntasks=1",
            f"--cpus-per-task={submission.cores}",
        ]
        if submission.partition:
            argv.append(f"--partition={submission.partition}")
        if submission.memory_mb:
            argv.append(f"--mem={submission.memory_mb}M")
        if submission.hold:
            argv.append("--hold")
        if submission.energy_policy:  # EAR's SLURM plugin options
            argv += ["--ear=on", f"--ear-policy={submission.energy_policy}"]
        if submission.gpus:
            argv.append(gres_gpu(submission.gpus, submission.gpu_type))
        return argv

    def parse_submit(self, stdout: str) -> str:
        job_id = stdout.strip().split(";")[0]
        if not JOB_ID.match(job_id):
            raise SchedulerError(f"sbatch answered {stdout.strip()!r}, not a job id", site=self.site)
        return job_id

    def submit(self, submission: JobSubmission) -> str:
        result = self.transport.run(self.submit_argv(submission),
                                    stdin=submission.script.encode(), idempotent=False)
        if not result.ok:
            raise SchedulerError(f"sbatch refused the job: {result.describe()}", site=self.site,
                                 fix="check the partition, time limit and resources requested")
        return self.parse_submit(result.stdout)

    # -- find / query -----------------------------------------------------------------------

    def find(self, key: str) -> list[str]:
        require_key(key, self.site)
        live = self.transport.check(["squeue", "--me", "--noheader", f"--name={key}",
                                     "--states=all", "--format=%i"])
        past = self.transport.check(["sacct", "--allocations", "--noheader", "--parsable2",
                                     f"--name={key}", f"--starttime=now-{self.history_days}days",
                                     "--format=JobIDRaw"])
        ids = {line.strip() for line in (live.stdout + "\n" + past.stdout).splitlines()}
        return sorted((i for i in ids if JOB_ID.match(i)), key=int)

    def status_argv(self) -> list[str]:
        return [*EPOCH_TIMES, "squeue", "--me", "--noheader", "--states=all",
                f"--format={SQUEUE_FORMAT}"]

    def parse_status(self, stdout: str) -> dict[str, JobStatus]:
        statuses: dict[str, JobStatus] = {}
        for line in stdout.splitlines():
            fields = line.strip().split("|")
            if len(fields) != 5 or not JOB_ID.match(fields[0]):
                continue
            job_id, native, slurm_reason, submitted, started = fields
            state, reason = map_slurm_state(native, slurm_reason)
            statuses[job_id] = JobStatus(job_id=job_id, state=state, native_state=native,
                                         reason=reason, submit_time=slurm_time(submitted),
                                         start_time=slurm_time(started))
        return statuses

    def accounting_argv(self, job_ids: Iterable[str], since: datetime | None, *,
                        now: datetime | None = None) -> list[str]:
        """``sacct`` for jobs that ran at or after ``since`` (an aware instant), counted back
        from the centre's clock, so neither side's time zone matters."""
        if since is None:
            start = f"now-{self.history_days}days"
        elif since.tzinfo is None or since.utcoffset() is None:
            raise ValueError(f"since={since.isoformat()} has no time zone: the instant is "
                             "ambiguous; give an aware datetime (e.g. datetime.now(UTC))")
        else:
            back = (now or datetime.now(UTC)) - since + SINCE_MARGIN
            start = f"now-{max(math.ceil(back.total_seconds()), 0)}seconds"
        return [*EPOCH_TIMES, "sacct", "--allocations", "--noheader", "--parsable2",
                f"--starttime={start}", f"--jobs={','.join(job_ids)}", f"--format={SACCT_FIELDS}"]

    def parse_accounting(self, stdout: str) -> dict[str, JobStatus]:
        statuses: dict[str, JobStatus] = {}
        for line in stdout.splitlines():
            fields = line.strip().split("|")
            if len(fields) != 7 or not JOB_ID.match(fields[0]):
                continue
            job_id, native, native_code, slurm_reason, submitted, started, ended = fields
            state, reason = map_slurm_state(native, slurm_reason)
            code = exit_code(native_code)
            if state is JobState.FAILED and code:
                reason = f"{reason}; exit code {native_code}"
            statuses[job_id] = JobStatus(job_id=job_id, state=state, native_state=native,
                                         reason=reason, exit_code=code,
                                         submit_time=slurm_time(submitted),
                                         start_time=slurm_time(started),
                                         end_time=slurm_time(ended))
        return statuses

    def query(self, job_ids: Collection[str], *, since: datetime | None = None
              ) -> dict[str, JobStatus]:
        wanted = set(job_ids)
        if not wanted:
            return {}
        queue = self.parse_status(self.transport.check(self.status_argv()).stdout)
        found = {i: s for i, s in queue.items() if i in wanted and not s.state.is_final}
        left = sorted(wanted - found.keys(), key=int)
        if left:
            accounting = self.transport.check(self.accounting_argv(left, since))
            found.update(self.parse_accounting(accounting.stdout))
            for job_id in left:
                if job_id not in found and job_id in queue:
                    found[job_id] = queue[job_id]  # final in squeue, not yet in accounting
        for job_id in wanted - found.keys():
            found[job_id] = JobStatus(job_id=job_id, state=JobState.UNKNOWN,
                                      reason="not in the queue nor in accounting (yet)")
        return found

    # -- cancel / partitions ----------------------------------------------------------------

    def cancel(self, job_ids: Collection[str]) -> None:
        ids = [i for i in job_ids if JOB_ID.match(i)]
        if not ids:
            return
        result = self.transport.run(["scancel", *ids])
        if not result.ok and "already completing or completed" not in result.stderr \
                and "Invalid job id" not in result.stderr:
            raise SchedulerError(f"scancel failed: {result.describe()}", site=self.site)

    def partitions(self) -> list[str]:
        result = self.transport.check(["sinfo", "--noheader", "--format=%R"])
        return sorted({line.strip() for line in result.stdout.splitlines() if line.strip()})

    def load(self) -> SiteLoad:
        queue = self.transport.check(["squeue", "--noheader", "--states=PENDING,RUNNING", "--format=%T"])
        states = queue.stdout.split()
        cpus = self.transport.check(["sinfo", "--noheader", "--format=%C"]).stdout.split()
        _allocated, idle, other, total = (int(x) for x in (cpus[0] if cpus else "0/0/0/0").split("/"))
        return SiteLoad(pending_jobs=states.count("PENDING"), running_jobs=states.count("RUNNING"),
                        idle_cpus=idle, total_cpus=total, unavailable_cpus=other)

    def output_path(self, job_dir: str, job_id: str) -> str:
        return f"{job_dir}/slurm-{job_id}.out"  # as --output/--error in submit_argv

    def usage(self, job_id: str) -> UsageRecord:
        """``sacct`` of the job and its steps (epoch times, so no zone is guessed)."""
        return parse_sacct_usage(self.transport.check(sacct_usage_argv(job_id)).stdout)

