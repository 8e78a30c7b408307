"""Slurm measures a job's energy on the test bed, and HEROES reads it from accounting.

Slurm's ``acct_gather_energy/rapl`` plugin reads RAPL counters in ``/dev/cpu/N/msr``; on this
test bed those are regular files that ``scripts/testbed/power_meter.py`` advances at
``idle_w + cpu_w * busy CPUs`` watts (see its docstring). A job that keeps one CPU busy for a
few seconds must then come back from ``sacct`` through ``scheduler.usage`` as measured energy,
within what the meter's model allows for its elapsed time and below what the meter counted
while the job ran.
"""

from __future__ import annotations

import json
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import power_meter  # scripts/testbed, put on sys.path by conftest
import pytest
from testbed_config import state_dir

from heroes_core import jobs
from heroes_core.models import UserArea
from heroes_core.schedulers import JobSubmission, UsageRecord

BUSY_S = 8  # the job keeps one CPU busy this long


def meter_status() -> dict[str, Any]:
    status: dict[str, Any] = json.loads((state_dir() / "power-meter" / "status.json").read_text())
    return status


@pytest.fixture
def meter(testbed: dict[str, Any]) -> dict[str, Any]:
    """The live meter's status. A machine with real msr devices fails loudly rather than skipping:
    the meter stands aside there, and nothing in the test bed could bound the hardware's figure."""
    msr = Path("/dev/cpu/0/msr")
    if msr.exists() and stat.S_ISCHR(msr.stat().st_mode):
        pytest.fail("real msr devices here: Slurm reads the hardware, not the test bed's meter, so this "
                    "test cannot check its figure; run the test bed on a machine without /dev/cpu/*/msr")
    status = meter_status()
    assert time.time() - status["updated"] < power_meter.STALE_AFTER_S, "the power meter is not running"
    return status


def wait_usage(site, job_id: str, seconds: float = 120) -> UsageRecord:  # type: ignore[no-untyped-def]
    """The job's accounting once it is final in sacct and its steps' energy is recorded."""
    deadline = time.monotonic() + seconds
    while True:
        status = site.scheduler.query([job_id])[job_id]
        if status.state.is_final:
            usage: UsageRecord = site.scheduler.usage(job_id)
            if usage.energy_source == "slurm" and usage.ended_at is not None:
                return usage
        assert time.monotonic() < deadline, f"job {job_id}: no measured energy in accounting: {status}"
        time.sleep(0.5)


def test_slurm_measures_a_busy_jobs_energy_from_the_meters_counters(site, meter) -> None:  # type: ignore[no-untyped-def]
    key = f"heroes-energy-{uuid.uuid4().hex[:12]}"
    job_dir = jobs.ensure_job_directory(site, UserArea(organisation="itest", user="energy"), key)
    before = meter_status()
    job_id = site.scheduler.submit(JobSubmission(
        key=key, job_dir=job_dir, partition="debug", cores=1,
        script=f"#!/bin/bash\ntimeout {BUSY_S} bash -c 'while :; do :; done' || true\n"))
    usage = wait_usage(site, job_id)
    after = meter_status()

    assert usage.native_state == "COMPLETED"
    assert usage.energy_source == "slurm"
    assert usage.energy_j is not None and usage.energy_j > 0
    assert after["pid"] == before["pid"], "the meter restarted during the job"
    energy = usage.energy_j
    idle_w, cpu_w, max_w = meter["idle_w"], meter["cpu_w"], meter["max_w"]
    # Slurm's figure is the node's counter over the batch step, whole joules: the step lasts at
    # least the busy loop, during which at least that one CPU is busy (the loop or whatever
    # else runs on it); the meter advances its counter every interval_s.
    lag = 2 * meter["interval_s"]
    assert energy >= (idle_w + 0.9 * cpu_w) * (BUSY_S - lag) - 1, (energy, usage)
    # ...and no more than the node can draw over the job's elapsed time (whole seconds)...
    assert energy <= max_w * (usage.elapsed_s + 1) + 1, (energy, usage)
    # ...nor more than the meter counted between just before the submission and the end.
    assert energy <= after["joules"] - before["joules"] + 1, (energy, before["joules"], after["joules"])


def test_the_meter_counts_like_rapl() -> None:
    """32-bit counter in 2**-14 J units that wraps; sub-unit energy is carried, not lost."""
    unit = power_meter.ENERGY_UNIT_J
    assert unit == 2.0 ** -14
    counter, rest = power_meter.advance(2**32 - 10, 0.0, 25 * unit)
    assert (counter, rest) == (15, 0.0)
    counter, rest = 0, 0.0
    for _ in range(1000):
        counter, rest = power_meter.advance(counter, rest, 0.4 * unit)
    assert counter == 400 and rest == pytest.approx(0.0, abs=1e-6)
    cpuinfo = "processor\t: 0\nphysical id\t: 0\n\nprocessor\t: 1\nphysical id\t: 0\n\n" \
              "processor\t: 2\nphysical id\t: 1\n"
    assert power_meter.plugin_cpus(cpuinfo) == {0: 0, 1: 2}
