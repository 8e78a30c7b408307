"""What the heroes-slurm worker sends to a centre, with no Prefect in it: the batch script, the
extra sbatch options, the job key and what a finished Slurm job means for the flow run.

Everything a work pool or a deployment sets ends up either as an sbatch argument (argv, never
parsed by a shell on this side) or as a value in the batch script, where each is quoted with
:func:`shlex.quote`: nothing from a job variable is ever shell code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from heroes_core.models import JobState, JobStatus
from heroes_core.schedulers import KEY_PATTERN, JobSubmission, SlurmScheduler

#: sbatch options a work pool may add (``--name=value``, or ``--name`` for ``--exclusive``).
#: The worker owns the rest (job name, comment, directory, output, resources), and options that
#: would change what runs (``--wrap``, ``--export``, ``--array``, ...) are not offered.
EXTRA_OPTIONS = frozenset({"account", "qos", "constraint", "reservation", "exclusive", "licenses",
                           "mail-type", "mail-user", "nice", "gres", "hint"})
_OPTION = re.compile(r"--(?P<name>[a-z][a-z-]{0,30})(?:=(?P<value>[A-Za-z0-9_.,:@%+=/-]{1,200}))?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: A bare program name found on the centre's PATH, or an absolute path.
PYTHON_PATTERN = r"^([A-Za-z0-9_.+-]{1,64}|(/[A-Za-z0-9_.+-]+){1,32})$"
#: An absolute directory on the centre, plain names only (no ``..``, no spaces, no quotes).
DIRECTORY_PATTERN = r"^(/[A-Za-z0-9_.+-]+)+$"


def check_extra_option(option: str) -> str:
    """Accept one extra sbatch option of the allowed names with a plain value, or say why not."""
    match = _OPTION.fullmatch(option)
    if match is None:
        raise ValueError(f"extra sbatch option {option!r} must look like --name=value (value: "
                         "letters, digits and _.,:@%+=/-) or --name")
    if match["name"] not in EXTRA_OPTIONS:
        raise ValueError(f"extra sbatch option --{match['name']} is not allowed; allowed: "
                         f"{', '.join(sorted(EXTRA_OPTIONS))} (the worker sets the job's name, "
                         "directory, output and resources itself)")
    return option


def check_directory(path: str) -> str:
    if not re.fullmatch(DIRECTORY_PATTERN, path) or any(part in (".", "..") for part in path.split("/")):
        raise ValueError(f"working directory {path!r} must be an absolute path of plain names "
                         "(letters, digits, _.+-), without . or .. components")
    return path.rstrip("/")


def flow_job_key(flow_run_id: str, attempt: int) -> str:
    """The Slurm job name of one attempt of a flow run.

    The same attempt always has the same key, so a worker that restarts, or a second submission
    of the same attempt, finds the job instead of submitting it again; a retry of the flow run
    (Prefect counts its runs) is a new attempt and gets a new job.
    """
    key = f"heroes-flow-{str(flow_run_id).lower()}-{attempt}"
    if not re.fullmatch(KEY_PATTERN, key):
        raise ValueError(f"flow run id {flow_run_id!r} does not make a job key")
    return key


def render_script(env: Mapping[str, str | None], command: str, *, flow_run_id: str) -> str:
    """The batch script: export the flow run's environment, then become its command.

    ``command`` is split as a shell would split words and each word is quoted again, so it
    runs as one program with its arguments: ``;``, ``|``, ``$(...)`` in it are plain text.
    ``exec`` makes the flow-run process the job's own, so ``scancel`` (SIGTERM) reaches it.
    """
    lines = ["#!/bin/sh", f"# HEROES heroes-slurm worker: Prefect flow run {flow_run_id}"]
    for name, value in sorted(env.items()):
        if value is None:
            continue
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"environment variable name {name!r} is not a shell variable name "
                             "(letters, digits and _, not starting with a digit)")
        if "\x00" in value:
            raise ValueError(f"environment variable {name} holds a NUL character")
        lines.append(f"export {name}={shlex.quote(value)}")
    words = shlex.split(command)
    if not words:
        raise ValueError("the flow run's command is empty")
    lines.append(f"exec {shlex.join(words)}")
    return "\n".join(lines) + "\n"


def exit_status(status: JobStatus) -> int:
    """The status code a finished Slurm job gives the flow run: 0 only for COMPLETED.

    Slurm's own exit code where it has a non-zero one (a signal ``n`` reads 128 + n, as a shell
    reports it), else 1: a job that Slurm failed, cancelled or timed out never reads as success.
    """
    if status.state is JobState.COMPLETED:
        return status.exit_code or 0
    return status.exit_code or 1


def describe(status: JobStatus, centre: str) -> str:
    """One line for the flow run's logs and its crash message: state, Slurm's reason, exit code."""
    native = status.native_state or status.state.value
    code = "" if status.exit_code is None else f", exit code {status.exit_code}"
    return f"Slurm job {status.job_id} on {centre} ended {native}: {status.reason or 'no reason given'}{code}"


class SlurmWithOptions(SlurmScheduler):
    """The centre's Slurm with a work pool's extra sbatch options after the worker's own."""

    def __init__(self, base: SlurmScheduler, options: Sequence[str]) -> None:
        super().__init__(base.transport, history_days=base.history_days)
        self.options = [check_extra_option(option) for option in options]

    def submit_argv(self, submission: JobSubmission) -> list[str]:
        return [*super().submit_argv(submission), *self.options]
