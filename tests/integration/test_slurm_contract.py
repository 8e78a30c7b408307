"""SlurmScheduler keeps the scheduler contract on the test bed's real Slurm, over real SSH."""

import uuid

import pytest

from heroes_core import jobs
from heroes_core.models import UserArea
from heroes_core.schedulers import Scheduler
from tests.scheduler_contract import SchedulerContract


class TestSlurmSchedulerContract(SchedulerContract):
    @pytest.fixture
    def scheduler(self, site) -> Scheduler:  # type: ignore[no-untyped-def]
        scheduler: Scheduler = site.scheduler
        return scheduler

    @pytest.fixture
    def job_dir(self, site) -> str:  # type: ignore[no-untyped-def]
        area = UserArea(organisation="itest", user="contract")
        return jobs.ensure_job_directory(site, area, f"contract-{uuid.uuid4().hex[:12]}")
