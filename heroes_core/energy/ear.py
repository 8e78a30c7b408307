"""EAR (Energy Aware Runtime): the energy it measured for a job, and the policy a job runs under.

``eacct -j <id> -l -c <file>`` writes one line per node and step of the job, ``;``-separated
under a header: ``JOBID``, ``STEPID``, ``NODENAME``, ``POLICY``, ``TIME_SEC`` and
``DC_NODE_POWER_W`` (the node's average DC power over the step) are what HEROES reads. A step's
energy is the sum over its nodes of power x time; the job's is the sum over its steps, except
that the batch step (``STEPID`` 4294967291, ``SLURM_BATCH_SCRIPT``) overlaps the ``srun``
steps it starts, so it counts only when the job has no other step. A line HEROES cannot read is
reported, never guessed at, and the job's figure is then not EAR's (the next source in
:mod:`heroes_core.energy.provenance` answers).

The parser was written against EAR's documented CSV columns (its ``eacct`` manual and the
column names its own tools read); the test bed has no EAR, see the README.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.errors import SpecError
from heroes_core.models import ENERGY_POLICY_PATTERN

BATCH_STEP: Final = "4294967291"
EXTERN_STEP: Final = "4294967295"
_NEEDED: Final = ("JOBID", "STEPID", "TIME_SEC", "DC_NODE_POWER_W")
_JOB_ID = re.compile(r"^\d{1,20}$")
_POLICY = re.compile(ENERGY_POLICY_PATTERN)


def check_policy(policy: str) -> str:
    """An EAR policy name as ``--ear-policy`` takes it (``monitoring``, ``min_energy``,
    ``min_time``, or a centre's own): a short lower-case word, never an option of its own."""
    if not _POLICY.fullmatch(policy):
        raise SpecError(f"{policy!r} is not an EAR policy name",
                        fix="use one of the centre's EAR policies, e.g. monitoring, min_energy, min_time")
    return policy


def eacct_argv(job_id: str, csv_path: str) -> list[str]:
    """The command that writes the job's per-node, per-step EAR records to ``csv_path`` and prints
    them (``eacct`` writes CSV only to a file)."""
    if not _JOB_ID.fullmatch(job_id):
        raise SpecError(f"job id {job_id!r} is not a batch job id")
    script = 'eacct -j "$1" -l -c "$2" >/dev/null && cat "$2"; status=$?; rm -f "$2"; exit $status'
    return ["sh", "-c", script, "sh", job_id, csv_path]


class EarEnergy(BaseModel):
    """What EAR measured for one job."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    energy_j: float | None = Field(ge=0, description="None when no line of the job could be read.")
    policy: str | None = Field(description="The policy EAR ran the job under, as it recorded it.")
    steps: int
    problems: tuple[str, ...] = Field(default=(), description="Lines that could not be read, and why.")


def parse_eacct_csv(text: str, job_id: str) -> EarEnergy:
    """EAR's energy for ``job_id`` from ``eacct -l -c`` output.

    Any unreadable line makes the figure None (a partial sum would understate the job), with
    each problem named.
    """
    reader = csv.DictReader(io.StringIO(text.strip()), delimiter=";")
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in _NEEDED if name not in header]
    if missing:
        return EarEnergy(job_id=job_id, energy_j=None, policy=None, steps=0,
                         problems=(f"eacct output lacks column(s) {', '.join(missing)}"
                                   f" (header: {';'.join(header)[:200] or 'none'})",))
    per_step: dict[str, float] = {}
    policies: set[str] = set()
    problems: list[str] = []
    for number, row in enumerate(reader, start=2):
        fields = {(key or "").strip(): (value or "").strip() for key, value in row.items()
                  if isinstance(value, str)}
        if fields.get("JOBID") != job_id:
            if fields.get("JOBID"):
                problems.append(f"line {number}: job {fields['JOBID']!r}, not {job_id}")
            else:
                problems.append(f"line {number}: no job id")
            continue
        try:
            seconds, watts = float(fields["TIME_SEC"]), float(fields["DC_NODE_POWER_W"])
        except (KeyError, ValueError):
            problems.append(f"line {number}: TIME_SEC {fields.get('TIME_SEC')!r} or DC_NODE_POWER_W "
                            f"{fields.get('DC_NODE_POWER_W')!r} is not a number")
            continue
        if seconds < 0 or watts < 0 or seconds != seconds or watts != watts:
            problems.append(f"line {number}: negative or NaN TIME_SEC/DC_NODE_POWER_W")
            continue
        step = fields["STEPID"]
        per_step[step] = per_step.get(step, 0.0) + seconds * watts
        if fields.get("POLICY"):
            policies.add(fields["POLICY"])
    working = {step: joules for step, joules in per_step.items() if step not in (BATCH_STEP, EXTERN_STEP)}
    counted = working or {step: joules for step, joules in per_step.items() if step == BATCH_STEP}
    energy = sum(counted.values()) if counted and not problems else None
    return EarEnergy(job_id=job_id, energy_j=energy, policy=", ".join(sorted(policies)) or None,
                     steps=len(counted), problems=tuple(problems))
