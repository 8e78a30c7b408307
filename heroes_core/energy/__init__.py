"""Energy (module 3): measured by EAR or Slurm, or modelled from a partition's declared power model,
always with its provenance; and the EAR policy a job runs under.

- :mod:`~heroes_core.energy.power`: :class:`PowerModel`, the provider's declaration per partition;
- :mod:`~heroes_core.energy.ear`: reading ``eacct`` and checking policy names;
- :mod:`~heroes_core.energy.provenance`: :func:`energy_provenance`, the order of trust;
- :mod:`~heroes_core.energy.policy`: which policy a job runs under (organisation default, or the
  user's pick where the organisation lets users choose).
"""

from heroes_core.energy.ear import EarEnergy, check_policy, eacct_argv, parse_eacct_csv
from heroes_core.energy.power import ANY_PARTITION, PowerModel, power_model_for
from heroes_core.energy.provenance import (
    ENERGY_SOURCES,
    MEASURED_ENERGY_SOURCES,
    EnergyFigure,
    EnergySource,
    energy_provenance,
)

__all__ = ["ANY_PARTITION", "ENERGY_SOURCES", "MEASURED_ENERGY_SOURCES", "EarEnergy", "EnergyFigure",
           "EnergySource", "PowerModel", "check_policy", "eacct_argv", "energy_provenance",
           "parse_eacct_csv", "power_model_for"]
