"""Power models as providers declare them per partition; the centre-wide one fills the gaps."""

import pytest
from pydantic import ValidationError

from heroes_core.energy import PowerModel, power_model_for
from heroes_core.sites import SiteConfig

CPU = PowerModel(idle_watts_per_node=80, watts_per_core=9.5, pue=1.3)
GPU = PowerModel(idle_watts_per_node=120, watts_per_core=9.5, watts_per_gpu=300, pue=1.3)


def test_energy_is_facility_power_over_the_run() -> None:
    assert GPU.watts(nodes=2, cores=16, gpus=4) == pytest.approx((2 * 120 + 16 * 9.5 + 4 * 300) * 1.3)
    assert GPU.energy_j(seconds=60, nodes=2, cores=16, gpus=4) == pytest.approx(60 * GPU.watts(nodes=2, cores=16,
                                                                                               gpus=4))
    assert CPU.energy_j(seconds=-5, nodes=1, cores=1) == 0


def test_a_partitions_model_else_the_centre_wide_one_else_none() -> None:
    site = SiteConfig(name="hpc1", host="h", user="u", work_root="/w", power_models={"gpu": GPU, "*": CPU})
    assert site.power_model("gpu") is GPU and site.power_model("batch") is CPU and site.power_model(None) is CPU
    assert power_model_for({"gpu": GPU}, "batch") is None


def test_a_pue_below_one_or_negative_watts_are_refused() -> None:
    with pytest.raises(ValidationError):
        PowerModel(idle_watts_per_node=10, watts_per_core=1, pue=0.9)
    with pytest.raises(ValidationError):
        PowerModel(idle_watts_per_node=-1, watts_per_core=1)
