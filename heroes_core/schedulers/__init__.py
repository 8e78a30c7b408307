"""Batch schedulers behind one interface: Slurm on centres, processes on laptops.

``SCHEDULERS`` names every implementation, as ``RUNTIMES`` does for containers; a
centre's configuration picks one by name and nothing else names a scheduler.
"""

from collections.abc import Callable
from typing import Literal

from heroes_core.schedulers._base import (
    KEY_PATTERN,
    JobSubmission,
    Scheduler,
    SiteLoad,
    UsageRecord,
    require_key,
)
from heroes_core.schedulers._local import LocalScheduler
from heroes_core.schedulers._slurm import SlurmScheduler
from heroes_core.schedulers._slurm_states import SLURM_STATES, map_slurm_state
from heroes_core.transport import Transport

#: The names a centre's configuration may give; the same keys as SCHEDULERS.
SchedulerName = Literal["slurm", "local"]
#: What a centre runs when its configuration names no scheduler: HPC centres run Slurm.
DEFAULT_SCHEDULER: SchedulerName = "slurm"

# name -> factory(transport, work_root): the local scheduler keeps its registry in the work root.
SCHEDULERS: dict[str, Callable[[Transport, str], Scheduler]] = {
    "slurm": lambda transport, work_root: SlurmScheduler(transport),
    "local": lambda transport, work_root: LocalScheduler(transport,
                                                         f"{work_root.rstrip('/')}/.local-jobs"),
}


def scheduler_named(name: str, transport: Transport, work_root: str) -> Scheduler:
    """The scheduler a centre's configuration names."""
    try:
        return SCHEDULERS[name](transport, work_root)
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; one of {sorted(SCHEDULERS)}") from None


__all__ = [
    "DEFAULT_SCHEDULER",
    "KEY_PATTERN",
    "SCHEDULERS",
    "SLURM_STATES",
    "JobSubmission",
    "LocalScheduler",
    "Scheduler",
    "SchedulerName",
    "SiteLoad",
    "SlurmScheduler",
    "UsageRecord",
    "map_slurm_state",
    "require_key",
    "scheduler_named",
]
