"""GPU jobs on the test bed's real Slurm, through the real sshd.

The node declares GPUs as GRES without hardware (scripts/testbed/gres.conf.in): Slurm schedules
and accounts them as it would real ones. The centre block declares them on partition ``batch``
(testbed.json), so a job asking for one runs there and ``sacct`` counts it, while a job asking
for more than the partition has is refused by HEROES before any ``sbatch``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from heroes_core import jobs
from heroes_core.errors import SpecError
from heroes_core.models import ImageRef, JobSpec, JobState, UserArea
from heroes_core.sites import PartitionGPUs
from heroes_core.transport import CommandResult

AREA = UserArea(organisation="itest", user="gpus")
PARTITION = "batch"


def declared(site: Any) -> PartitionGPUs:
    gpus = site.config.partition_gpus(PARTITION)
    if gpus is None:
        pytest.fail(f"centre {site.name} declares no GPUs on '{PARTITION}': testbed.json predates them; "
                    "run scripts/testbed.sh up", pytrace=False)
    assert isinstance(gpus, PartitionGPUs)
    return gpus


def gpu_job(image: dict[str, str], gpus: int, gpu_type: str | None, partition: str = PARTITION) -> JobSpec:
    return JobSpec(name="gpu", image=ImageRef(**image), command=["sh", "-c", "echo ran > /job/ran.txt"],
                   partition=partition, gpus=gpus, gpu_type=gpu_type, time_limit_minutes=2)


def sacct_tres(site, job_id: str) -> str:  # type: ignore[no-untyped-def]
    result = site.transport.check(["sacct", "--allocations", "--noheader", "--parsable2",
                                   f"--jobs={job_id}", "--format=AllocTRES"])
    return str(result.stdout.strip())


def test_a_gpu_job_runs_on_the_partition_with_gpus_and_accounting_counts_its_gpu(site, image) -> None:  # type: ignore[no-untyped-def]
    gpus = declared(site)
    spec = gpu_job(image, 1, gpus.type)
    jobs.validate(site, spec)
    key = f"heroes-gpu-{uuid.uuid4().hex[:12]}"
    job_dir = jobs.ensure_job_directory(site, AREA, key)
    submission = jobs.submission_for(site, spec, key, job_dir)
    assert f"--gres=gpu:{gpus.type}:1" in site.scheduler.submit_argv(submission)
    job_id = jobs.submit_once(site, submission).job_id
    status = jobs.wait_for(site, job_id, interval=0.5, max_interval=2)
    log = site.transport.run(["cat", f"{job_dir}/slurm-{job_id}.out"]).stdout
    assert status.state is JobState.COMPLETED, f"{status}\n{log}"
    assert site.transport.check(["cat", f"{job_dir}/ran.txt"]).stdout == "ran\n"
    tres = sacct_tres(site, job_id)
    assert "gres/gpu=1" in tres.split(","), tres
    assert site.scheduler.usage(job_id).gpus == 1


class Recording:
    """The site's transport, remembering every command sent through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.programs: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def run(self, argv: list[str], *args: Any, **kwargs: Any) -> CommandResult:
        self.programs.append(argv[0])
        result: CommandResult = self.inner.run(argv, *args, **kwargs)
        return result

    def check(self, argv: list[str], *args: Any, **kwargs: Any) -> CommandResult:
        self.programs.append(argv[0])
        result: CommandResult = self.inner.check(argv, *args, **kwargs)
        return result


def test_gpus_a_partition_lacks_are_refused_before_any_sbatch(site, image) -> None:  # type: ignore[no-untyped-def]
    gpus = declared(site)
    # Slurm itself has exactly what the block declares: it would take the partition's count
    # and refuse one more (sbatch --test-only submits nothing).
    probe = ["sbatch", "--test-only", f"--partition={PARTITION}", "--wrap=true"]
    assert site.transport.run([*probe, f"--gres=gpu:{gpus.type}:{gpus.per_node}"]).ok
    refused = site.transport.run([*probe, f"--gres=gpu:{gpus.type}:{gpus.per_node + 1}"])
    assert not refused.ok and "Requested node configuration is not available" in refused.stderr

    recording = Recording(site.transport)
    site.transport = site.scheduler.transport = recording
    with pytest.raises(SpecError) as too_many:
        jobs.validate(site, gpu_job(image, gpus.per_node + 1, gpus.type))
    assert str(too_many.value).startswith(
        f"[{site.name}] the job asks for {gpus.per_node + 1} {gpus.type} GPU(s) per node on partition "
        f"'{PARTITION}', which has {gpus.per_node} {gpus.type} GPU(s) per node Fix: ")
    with pytest.raises(SpecError, match=r"on partition 'debug', which has none Fix: choose partition 'batch'"):
        jobs.validate(site, gpu_job(image, 1, None, partition="debug"))
    assert "sbatch" not in recording.programs, recording.programs
