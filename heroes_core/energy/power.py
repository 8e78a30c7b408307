"""Power models: how a partition draws power, as its provider declares it.

Energy HEROES cannot measure (no EAR, no Slurm energy plugin) is modelled, never guessed: from
the power model the provider declares for the partition in the centre's block. Without one the
job's energy is unknown ("none"), and the decision module says so, rather than a constant in
code standing in for a machine nobody described.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ANY_PARTITION = "*"


class PowerModel(BaseModel):
    """One partition's draw: a node's idle power, each busy core's and GPU's, and the data
    centre's PUE (facility power over IT power)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    idle_watts_per_node: float = Field(ge=0, le=100_000,
                                       description="What an allocated node draws doing nothing, in W.")
    watts_per_core: float = Field(ge=0, le=10_000, description="What each busy core adds, in W.")
    watts_per_gpu: float = Field(default=0.0, ge=0, le=10_000, description="What each busy GPU adds, in W.")
    pue: float = Field(default=1.0, ge=1.0, le=5.0,
                       description="Power usage effectiveness of the data centre (1.0: IT power only).")

    def watts(self, *, nodes: int, cores: int, gpus: int = 0) -> float:
        """Facility power while a job holds ``nodes`` with ``cores`` and ``gpus`` busy."""
        return (nodes * self.idle_watts_per_node + cores * self.watts_per_core
                + gpus * self.watts_per_gpu) * self.pue

    def energy_j(self, *, seconds: float, nodes: int, cores: int, gpus: int = 0) -> float:
        return max(seconds, 0.0) * self.watts(nodes=nodes, cores=cores, gpus=gpus)


def power_model_for(models: dict[str, PowerModel], partition: str | None) -> PowerModel | None:
    """The partition's model, else the centre-wide one (``"*"``), else None (not declared)."""
    if partition is not None and partition in models:
        return models[partition]
    return models.get(ANY_PARTITION)
