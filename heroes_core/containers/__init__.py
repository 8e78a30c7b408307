"""Container runtimes: Apptainer, Singularity and Charliecloud behind one interface."""

from typing import Literal

from heroes_core.containers._apptainer import ApptainerRuntime, SingularityRuntime
from heroes_core.containers._base import ENV_FILE_NAME, JOB_MOUNT, ContainerRuntime
from heroes_core.containers._charliecloud import CharliecloudRuntime
from heroes_core.containers._verify import verify_image

#: The names a centre's configuration may give; the same keys as RUNTIMES.
RuntimeName = Literal["apptainer", "singularity", "charliecloud"]

RUNTIMES: dict[str, type[ContainerRuntime]] = {
    "apptainer": ApptainerRuntime,
    "singularity": SingularityRuntime,
    "charliecloud": CharliecloudRuntime,
}


def runtime_named(name: str) -> ContainerRuntime:
    """The runtime for a centre's configured name."""
    try:
        return RUNTIMES[name]()
    except KeyError:
        raise ValueError(f"unknown container runtime {name!r}; one of {sorted(RUNTIMES)}") from None


__all__ = [
    "ENV_FILE_NAME",
    "JOB_MOUNT",
    "RUNTIMES",
    "ApptainerRuntime",
    "CharliecloudRuntime",
    "ContainerRuntime",
    "RuntimeName",
    "SingularityRuntime",
    "runtime_named",
    "verify_image",
]
