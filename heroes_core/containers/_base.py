"""Container runtimes: how a job's command line wraps an immutable image.

Each runtime renders two things for the batch script: the lines that make the
image runnable (nothing for SIF files, an unpack for Charliecloud tarballs) and
the argv that runs the user's command with only the job directory bound.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from heroes_core.models import ImageRef

JOB_MOUNT = "/job"


class ContainerRuntime(ABC):
    """One container runtime as it is installed on a centre."""

    name: str
    isolates_network: bool

    def prepare_lines(self, image: ImageRef, cache_dir: str) -> list[str]:
        """Shell lines (already quoted) run before the container starts."""
        return []

    @abstractmethod
    def exec_argv(self, image: ImageRef, command: Sequence[str], job_dir: str,
                  env: Mapping[str, str], cache_dir: str) -> list[str]:
        """argv that runs ``command`` in ``image`` with ``job_dir`` mounted at /job."""
