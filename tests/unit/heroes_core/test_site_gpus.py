"""GPUs per partition: what a centre declares, and the GPU jobs refused before submission."""

import pytest
from pydantic import ValidationError

from heroes_core import jobs
from heroes_core.errors import SpecError
from heroes_core.models import ImageRef, JobSpec
from heroes_core.sites import PartitionGPUs, Site, SiteConfig, open_site
from tests.unit.heroes_core.fakes import ScriptedTransport

SPEC = JobSpec(name="train", image=ImageRef(path="/img/app.sif", digest="sha256:" + "ab" * 32),
               command=["python", "train.py"], partition="gpu")
DECLARED = {"gpu": PartitionGPUs(per_node=4, type="a100"), "viz": PartitionGPUs(per_node=1)}


def config(**overrides: object) -> SiteConfig:
    values: dict[str, object] = {"name": "hpc1", "host": "h", "user": "svc", "work_root": "/w",
                                 "scheduler": "slurm", "partitions": ("cpu", "gpu", "viz"),
                                 "default_partition": "cpu", "gpus": DECLARED}
    values.update(overrides)
    return SiteConfig.model_validate(values)


def site(**overrides: object) -> Site:
    built = open_site(config(transport="local", **overrides))
    built.transport = built.scheduler.transport = ScriptedTransport({})
    return built


def asking(**request: object) -> JobSpec:
    return SPEC.model_copy(update=request)


def test_a_partitions_gpus_are_its_own_else_the_centre_wide_ones_else_none() -> None:
    centre = config(gpus={"gpu": PartitionGPUs(per_node=4, type="a100"), "*": PartitionGPUs(per_node=2),
                          "cpu": PartitionGPUs(per_node=0)})
    assert centre.partition_gpus("gpu") == PartitionGPUs(per_node=4, type="a100")
    assert centre.partition_gpus("viz") == PartitionGPUs(per_node=2)
    assert centre.partition_gpus("cpu") is None  # declared with none, which '*' does not override
    assert centre.partition_gpus(None) is None  # a job naming no partition runs on cpu, the default
    assert config(default_partition=None, gpus=centre.gpus).partition_gpus(None) == PartitionGPUs(per_node=2)
    assert config(gpus={}).partition_gpus("gpu") is None


def test_gpus_declared_under_a_name_no_partition_can_have_are_refused() -> None:
    with pytest.raises(ValidationError, match="gpus names partition 'a b', which is not a valid partition name"):
        config(gpus={"a b": PartitionGPUs(per_node=4)})
    # a partition no longer offered keeps its declaration: it harms no job
    assert config(partitions=("cpu",), gpus={"gpu": PartitionGPUs(per_node=4)}).partition_gpus("gpu")


def test_a_slip_in_a_declared_partition_name_shows_in_the_refusal() -> None:
    with pytest.raises(SpecError, match=r"on partition 'gpu', which has none Fix: choose partition 'gpus' "
                                        r"\(4 GPU\(s\) per node\)$"):
        site(gpus={"gpus": PartitionGPUs(per_node=4)}).check_limits(asking(gpus=1))


def test_a_job_within_the_partitions_gpus_passes() -> None:
    centre = site()
    centre.check_limits(asking(gpus=4))
    centre.check_limits(asking(gpus=2, gpu_type="a100"))
    centre.check_limits(asking(partition="viz", gpus=1))
    centre.check_limits(asking(partition="cpu"))  # no GPU asked: nothing to check


def test_more_gpus_per_node_than_the_partition_has_are_refused_naming_centre_partition_and_counts() -> None:
    with pytest.raises(SpecError) as refused:
        site().check_limits(asking(gpus=5, nodes=2))
    assert str(refused.value) == (
        "[hpc1] the job asks for 5 GPU(s) per node on partition 'gpu', which has 4 a100 GPU(s) per "
        "node Fix: ask for what a partition has ('gpu': 4 a100 GPU(s) per node; 'viz': 1 GPU(s) "
        "per node), e.g. fewer GPUs per node on more nodes, or no GPU type")


def test_a_gpu_type_the_partition_does_not_have_is_refused_and_the_one_that_has_it_named() -> None:
    with pytest.raises(SpecError, match=r"asks for 1 h100 GPU\(s\) per node on partition 'gpu', which "
                                        r"has 4 a100 GPU\(s\) per node.*Fix: ask for what a partition has"):
        site().check_limits(asking(gpus=1, gpu_type="h100"))
    with pytest.raises(SpecError, match=r"partition 'viz', which has 1 GPU\(s\) per node of no declared type"
                                        r".*Fix: choose partition 'gpu' \(4 a100 GPU\(s\) per node\)"):
        site().check_limits(asking(partition="viz", gpus=1, gpu_type="a100"))


def test_any_gpu_on_a_partition_without_gpus_is_refused_pointing_at_those_with_them() -> None:
    with pytest.raises(SpecError, match=r"\[hpc1\] the job asks for 1 GPU\(s\) per node on partition "
                                        r"'cpu', which has none Fix: choose partition 'gpu' "
                                        r"\(4 a100 GPU\(s\) per node\) or partition 'viz' \(1 GPU\(s\) per node\)"):
        site().check_limits(asking(partition="cpu", gpus=1))
    # the centre's default partition is the one checked when the job names none
    with pytest.raises(SpecError, match="on partition 'cpu', which has none"):
        site().check_limits(asking(partition=None, gpus=1))
    with pytest.raises(SpecError, match=r"on the default partition, which has none.*declares no GPUs"):
        site(gpus={}, default_partition=None).check_limits(asking(partition=None, gpus=1))


def test_a_centre_wide_declaration_offers_every_partition_it_covers() -> None:
    centre = site(gpus={"*": PartitionGPUs(per_node=2), "cpu": PartitionGPUs(per_node=0)})
    with pytest.raises(SpecError, match=r"Fix: choose partition 'gpu' \(2 GPU\(s\) per node\) or "
                                        r"partition 'viz' \(2 GPU\(s\) per node\)$"):
        centre.check_limits(asking(partition="cpu", gpus=2))
    anywhere = site(partitions=(), gpus={"*": PartitionGPUs(per_node=2), "cpu": PartitionGPUs(per_node=0)})
    with pytest.raises(SpecError, match=r"Fix: choose another partition \(2 GPU\(s\) per node\)$"):
        anywhere.check_limits(asking(partition="cpu", gpus=2))


def test_a_scheduler_that_cannot_give_gpus_refuses_gpu_jobs_before_submission() -> None:
    centre = site(scheduler="local")
    with pytest.raises(SpecError, match=r"\[hpc1\] the job asks for 1 GPU\(s\) per node; this centre's "
                                        r"scheduler 'local' cannot give GPUs"):
        centre.check_limits(asking(gpus=1))
    centre.check_limits(asking())


def test_the_submission_carries_the_jobs_gpus() -> None:
    submission = jobs.submission_for(site(), asking(gpus=2, gpu_type="a100"), "heroes-0123456789abcdef", "/w/j")
    assert (submission.gpus, submission.gpu_type) == (2, "a100")
