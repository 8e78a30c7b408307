"""The names a centre's configuration accepts are exactly the implementations the registries hold."""

from __future__ import annotations

from typing import get_args

import pytest

from heroes_core.containers import RUNTIMES, RuntimeName, runtime_named
from heroes_core.schedulers import SCHEDULERS, SchedulerName, scheduler_named
from heroes_core.transport import LocalTransport


def test_every_configurable_scheduler_name_has_an_implementation_and_no_other() -> None:
    assert set(get_args(SchedulerName)) == set(SCHEDULERS)


def test_every_configurable_runtime_name_has_an_implementation_and_no_other() -> None:
    assert set(get_args(RuntimeName)) == set(RUNTIMES)


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown scheduler 'pbs'.*'local', 'slurm'"):
        scheduler_named("pbs", LocalTransport(), "/tmp/work")
    with pytest.raises(ValueError, match=r"unknown container runtime 'docker'.*'apptainer'"):
        runtime_named("docker")
