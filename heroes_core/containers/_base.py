"""Container runtimes: how a job's command line wraps an immutable image.

Each runtime renders two things for the batch script: the lines that make the
image runnable (nothing for SIF files, an unpack for Charliecloud tarballs, the
job's environment file for Apptainer/Singularity) and the argv that runs the
user's command with only the job directory bound, a private /tmp and a clean
environment holding only the job spec's variables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from heroes_core.models import ImageRef

JOB_MOUNT = "/job"
# Written into the job directory (mode 0600) by runtimes that read the job's environment from a file.
ENV_FILE_NAME = ".heroes-env"
# The PATH a clean container environment starts from (Apptainer's default too).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerRuntime(ABC):
    """One container runtime as it is installed on a centre."""

    name: str
    isolates_network: bool

    def prepare_lines(self, image: ImageRef, cache_dir: str, *, job_dir: str,
                      env: Mapping[str, str]) -> list[str]:
        """Shell lines (already quoted) run in the batch script before the container starts.

        Pass the same ``job_dir`` and ``env`` as to :meth:`exec_argv`: a runtime that reads the
        job's environment from a file writes that file here.
        """
        return []

    @abstractmethod
    def exec_argv(self, image: ImageRef, command: Sequence[str], job_dir: str,
                  env: Mapping[str, str], cache_dir: str) -> list[str]:
        """argv that runs ``command`` in ``image`` with ``job_dir`` mounted at /job, a private
        /tmp and an environment holding nothing of the host's but ``env``."""
