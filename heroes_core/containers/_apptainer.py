"""Apptainer and SingularityCE: SIF images run contained, with a clean environment, no network.

The job's environment variables travel in a file, never on the command line: ``--env``
splits its argument on commas and interprets quotes, so values would not arrive intact.
The batch script writes the file into the job directory (mode 0600) as one
``export NAME=<value quoted for a POSIX shell>`` line per variable. Apptainer evaluates an
``--env-file`` with its embedded POSIX shell interpreter (mvdan.cc/sh, command execution and
redirection disabled), so single-quoted values, newlines included, are taken literally.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from heroes_core.containers._base import ENV_FILE_NAME, JOB_MOUNT, ContainerRuntime
from heroes_core.models import ImageRef


def env_file_lines(env: Mapping[str, str]) -> list[str]:
    """The env file's lines: ``export NAME=<shell-quoted value>`` per variable (a quoted value
    may itself span lines)."""
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]


class ApptainerRuntime(ContainerRuntime):
    """``apptainer exec --contain --containall --cleanenv`` with only the job directory bound.

    ``--contain`` gives the job its own /tmp and /var/tmp (``--containall`` implies it and
    adds private PID and IPC namespaces); ``--cleanenv`` drops the service account's
    environment.
    """

    name = "apptainer"
    binary = "apptainer"
    isolates_network = True

    def env_file(self, job_dir: str) -> str:
        return f"{job_dir.rstrip('/')}/{ENV_FILE_NAME}"

    def prepare_lines(self, image: ImageRef, cache_dir: str, *, job_dir: str,
                      env: Mapping[str, str]) -> list[str]:
        if not env:
            return []
        path = shlex.quote(self.env_file(job_dir))
        lines = " ".join(shlex.quote(line) for line in env_file_lines(env))
        # A fresh file (a planted link is removed, not followed), private to the service account.
        return [f"(umask 077 && rm -f -- {path} && printf '%s\\n' {lines} > {path})"]

    def exec_argv(self, image: ImageRef, command: Sequence[str], job_dir: str,
                  env: Mapping[str, str], cache_dir: str) -> list[str]:
        argv = [self.binary, "exec", "--contain", "--containall", "--cleanenv", "--no-home",
                "--bind", f"{job_dir}:{JOB_MOUNT}", "--pwd", JOB_MOUNT,
                "--net", "--network", "none"]
        if env:
            argv += ["--env-file", self.env_file(job_dir)]
        return [*argv, image.path, *command]


class SingularityRuntime(ApptainerRuntime):
    """SingularityCE shares Apptainer's command line under its own name."""

    name = "singularity"
    binary = "singularity"
