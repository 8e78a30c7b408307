"""Slurm's accounting of one job (``sacct``): what it used, read from the allocation and its steps.

Only the Slurm adapter knows these commands and formats; everyone else asks the
scheduler for :meth:`~heroes_core.schedulers.Scheduler.usage`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from heroes_core.errors import SchedulerError, SpecError
from heroes_core.schedulers._base import UsageRecord
from heroes_core.schedulers._slurm_states import map_slurm_state

JOB_ID = re.compile(r"^\d+$")
# squeue and sacct print times as epoch seconds, so no centre's zone has to be guessed.
EPOCH_TIMES = ("env", "SLURM_TIME_FORMAT=%s")
SACCT_USAGE_FIELDS = ("JobIDRaw,ElapsedRaw,AllocCPUS,NNodes,AllocTRES,MaxRSS,ConsumedEnergyRaw,"
                      "Submit,Start,End,State,ExitCode,TotalCPU")
_N_FIELDS = len(SACCT_USAGE_FIELDS.split(","))
# Output recorded before TotalCPU was asked for ends at ExitCode: still read, without CPU time.
_N_FIELDS_WITHOUT_CPU = _N_FIELDS - 1
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([KMGTP]?)$", re.IGNORECASE)
_MB_PER_UNIT = {"": 1 / 1024**2, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2, "P": 1024.0**3}


def exit_code(value: str) -> int | None:
    """Slurm's ``code:signal``; a signal ``n`` reads as 128 + n, as a shell would report it."""
    code, _, signal = value.partition(":")
    if not code.isdigit():
        return None
    return int(signal) + 128 if signal.isdigit() and int(signal) else int(code)


def sacct_usage_argv(job_id: str) -> list[str]:
    """The ``sacct`` command whose output :func:`parse_sacct_usage` reads (job and all its steps)."""
    if not JOB_ID.match(job_id):
        raise SpecError(f"job id {job_id!r} is not a Slurm job id")
    # Epoch seconds: sacct otherwise prints the centre's wall-clock time, in a zone unknown here.
    return [*EPOCH_TIMES, "sacct", "--parsable2", "--noheader", "-j", job_id,
            f"--format={SACCT_USAGE_FIELDS}"]


def parse_memory_mb(value: str) -> float | None:
    """``MaxRSS``-style sizes in MiB: '4012K', '1.50G', '0'. A bare number is bytes (Slurm >= 18)."""
    value = value.strip()
    if not value:
        return None
    match = _MEMORY.match(value)
    if not match:
        return None
    return float(match.group(1)) * _MB_PER_UNIT[match.group(2).upper()]


def parse_duration_s(value: str) -> float | None:
    """``ElapsedRaw`` (seconds) or ``Elapsed`` ([D-]HH:MM:SS, MM:SS.mmm) in seconds."""
    value = value.strip()
    if not value or value in ("INVALID", "UNLIMITED", "Partition_Limit"):
        return None
    if ":" not in value:
        try:
            return float(value)
        except ValueError:
            return None
    days, _, clock = value.rpartition("-")
    try:
        parts = [float(p) for p in clock.split(":")]
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        return seconds + (int(days) * 86400 if days else 0)
    except ValueError:
        return None


def _gpus(tres: str) -> int:
    counts: dict[str, int] = {}
    for item in tres.split(","):
        name, _, count = item.partition("=")
        if name.startswith("gres/gpu") and count.isdigit():
            counts[name] = int(count)
    if "gres/gpu" in counts:
        return counts["gres/gpu"]
    return sum(counts.values())


def slurm_time(value: str, tz: tzinfo | None = None) -> datetime | None:
    """An aware UTC time from epoch seconds (``SLURM_TIME_FORMAT=%s``) or ISO 8601; None if absent.

    A wall-clock time without an offset is in the centre's zone: read in ``tz`` when the
    caller knows it (older recordings), else not guessed at (None).
    """
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC) if int(value) else None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None  # empty, N/A, Unknown, None
    if parsed.tzinfo is None:
        if tz is None:
            return None
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def parse_sacct_usage(stdout: str, *, tz: tzinfo = UTC) -> UsageRecord:
    """Usage of one job from ``sacct --parsable2 --noheader -j ID --format=SACCT_USAGE_FIELDS``.

    The allocation line (``JobIDRaw`` all digits) gives elapsed time, cores,
    nodes, GPUs (``gres/gpu`` in ``AllocTRES``), state and times; ``MaxRSS`` is
    per step, so the job's peak is the max over its steps (batch, extern, srun
    steps). Energy is the allocation's ``ConsumedEnergyRaw`` when positive, else
    the largest step figure (steps overlap in time, so summing would double count;
    the ``extern`` step spans the whole allocation). 0 or empty means no energy
    plugin: ``energy_source`` "none". Times are epoch seconds (see
    :func:`sacct_usage_argv`); naive wall-clock times, as older recordings hold, are
    read in ``tz`` (the site's zone). All are returned in UTC.
    """
    job: list[str] | None = None
    memory: list[float] = []
    step_energy: list[float] = []
    for line in stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) == _N_FIELDS_WITHOUT_CPU:
            fields.append("")
        if len(fields) != _N_FIELDS:
            continue
        job_id = fields[0]
        rss = parse_memory_mb(fields[5])
        if rss is not None:
            memory.append(rss)
        if JOB_ID.match(job_id):
            if job is not None and job[0] != job_id:
                raise SchedulerError(f"sacct output holds jobs {job[0]} and {job_id}: query one job")
            job = fields
        else:
            energy = _float(fields[6])
            if energy is not None:
                step_energy.append(energy)
    if job is None:
        raise SchedulerError(f"no job allocation line in sacct output {stdout.strip()[:200]!r}",
                             fix="check the job id and that accounting (slurmdbd) has the job")
    (job_id, elapsed, cpus, nnodes, tres, _rss, energy_raw, submit, start, end, native,
     code, total_cpu) = job
    submitted = slurm_time(submit, tz)
    if submitted is None:
        raise SchedulerError(f"sacct gives no submit time for job {job_id} ({submit!r})")
    job_energy = _float(energy_raw)
    if job_energy is None or job_energy <= 0:
        job_energy = max(step_energy, default=None)
    measured = job_energy is not None and job_energy > 0
    outcome, _reason = map_slurm_state(native)
    return UsageRecord(
        job_id=job_id, elapsed_s=parse_duration_s(elapsed) or 0.0,
        cores=int(cpus) if cpus.isdigit() else 0, nodes=int(nnodes) if nnodes.isdigit() else 0,
        gpus=_gpus(tres), max_memory_mb=max(memory, default=None),
        energy_j=job_energy if measured else None, energy_source="slurm" if measured else "none",
        native_state=native, outcome=outcome, exit_code=exit_code(code),
        cpu_time_s=parse_duration_s(total_cpu),
        submitted_at=submitted, started_at=slurm_time(start, tz), ended_at=slurm_time(end, tz))
