"""Prefect workers of HEROES: ``heroes-slurm`` runs a work pool's flow runs as Slurm jobs on a
registered centre.

Prefect finds the worker type through this package's ``prefect.collections`` entry point
(pyproject.toml), so ``prefect worker start --type heroes-slurm`` needs no import by hand.
"""

from heroes.workers.slurm import SlurmJobConfiguration, SlurmVariables, SlurmWorker, SlurmWorkerResult

__all__ = ["SlurmJobConfiguration", "SlurmVariables", "SlurmWorker", "SlurmWorkerResult"]
