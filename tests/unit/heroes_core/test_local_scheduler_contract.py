"""LocalScheduler keeps the scheduler contract, with real processes on this machine."""

from pathlib import Path

import pytest

from heroes_core.schedulers import LocalScheduler
from heroes_core.transport import LocalTransport
from tests.scheduler_contract import SchedulerContract


class TestLocalSchedulerContract(SchedulerContract):
    @pytest.fixture
    def scheduler(self, tmp_path: Path) -> LocalScheduler:
        return LocalScheduler(LocalTransport("laptop"), str(tmp_path / "registry"))

    @pytest.fixture
    def job_dir(self, tmp_path: Path) -> str:
        (tmp_path / "job").mkdir()
        return str(tmp_path / "job")
