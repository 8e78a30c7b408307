"""Batch schedulers behind one interface: Slurm on centres, processes on laptops."""

from heroes_core.schedulers._base import KEY_PATTERN, JobSubmission, Scheduler, SiteLoad
from heroes_core.schedulers._local import LocalScheduler
from heroes_core.schedulers._slurm import SlurmScheduler
from heroes_core.schedulers._slurm_states import SLURM_STATES, map_slurm_state

__all__ = [
    "KEY_PATTERN",
    "SLURM_STATES",
    "JobSubmission",
    "LocalScheduler",
    "Scheduler",
    "SiteLoad",
    "SlurmScheduler",
    "map_slurm_state",
]
