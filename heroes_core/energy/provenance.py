"""Where a job's energy figure comes from, in the design's order of trust.

EAR (measured by its library or node daemon) > the Slurm energy plugin (``ConsumedEnergyRaw``)
> the partition's declared power model. Every figure HEROES stores or shows carries its source,
so a modelled joule is never read as a measured one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EnergySource = Literal["ear", "slurm", "model", "none"]
ENERGY_SOURCES: tuple[EnergySource, ...] = ("ear", "slurm", "model", "none")
MEASURED_ENERGY_SOURCES: tuple[EnergySource, ...] = ("ear", "slurm")


class EnergyFigure(BaseModel):
    """A job's energy in joules and where it came from (None and "none": nobody knows)."""

    model_config = ConfigDict(frozen=True)

    energy_j: float | None = Field(default=None, ge=0)
    source: EnergySource = "none"

    @property
    def measured(self) -> bool:
        return self.source in MEASURED_ENERGY_SOURCES


def energy_provenance(*, ear_energy_j: float | None = None, slurm_energy_j: float | None = None,
                      modelled_energy_j: float | None = None) -> EnergyFigure:
    """The most trusted figure available.

    A missing, zero or negative figure counts as "not measured": Slurm reports
    ``ConsumedEnergyRaw`` 0 when no ``AcctGatherEnergyType`` plugin is set up, so 0 J is no
    measurement, not a free job.
    """
    candidates: tuple[tuple[float | None, EnergySource], ...] = (
        (ear_energy_j, "ear"), (slurm_energy_j, "slurm"), (modelled_energy_j, "model"))
    for value, source in candidates:
        if value is not None and value > 0:
            return EnergyFigure(energy_j=float(value), source=source)
    return EnergyFigure()
