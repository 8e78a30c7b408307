"""Apptainer and SingularityCE: SIF images run contained and without network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from heroes_core.containers._base import JOB_MOUNT, ContainerRuntime
from heroes_core.models import ImageRef


class ApptainerRuntime(ContainerRuntime):
    """``apptainer exec --containall`` with only the job directory bound."""

    name = "apptainer"
    binary = "apptainer"
    isolates_network = True

    def exec_argv(self, image: ImageRef, command: Sequence[str], job_dir: str,
                  env: Mapping[str, str], cache_dir: str) -> list[str]:
        argv = [self.binary, "exec", "--containall", "--cleanenv", "--no-home",
                "--bind", f"{job_dir}:{JOB_MOUNT}", "--pwd", JOB_MOUNT,
                "--net", "--network", "none"]
        for key, value in sorted(env.items()):
            argv += ["--env", f"{key}={value}"]
        return [*argv, image.path, *command]


class SingularityRuntime(ApptainerRuntime):
    """SingularityCE shares Apptainer's command line under its own name."""

    name = "singularity"
    binary = "singularity"
