"""LocalScheduler with real background processes on this machine."""

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heroes_core.errors import SpecError
from heroes_core.models import JobState
from heroes_core.schedulers import JobSubmission, LocalScheduler
from heroes_core.transport import LocalTransport


def wait_final(scheduler: LocalScheduler, key: str, seconds: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = scheduler.query([key])[key]
        if status.state.is_final:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{key} did not finish")


def submission(tmp_path: Path, key: str, body: str, minutes: int = 1) -> JobSubmission:
    job_dir = tmp_path / key
    job_dir.mkdir()
    return JobSubmission(key=key, job_dir=str(job_dir), script=f"#!/bin/bash\n{body}\n",
                         time_limit_minutes=minutes)


def test_a_job_runs_in_its_directory_and_completes(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-ok-0001"
    assert scheduler.submit(submission(tmp_path, key, "echo hello > out.txt")) == key
    assert wait_final(scheduler, key).state is JobState.COMPLETED
    assert (tmp_path / key / "out.txt").read_text() == "hello\n"
    assert scheduler.find(key) == [key]
    assert scheduler.find("heroes-local-none-0001") == []


def test_a_failing_job_reports_its_exit_code(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-fail-0001"
    scheduler.submit(submission(tmp_path, key, "exit 3"))
    status = wait_final(scheduler, key)
    assert status.state is JobState.FAILED and status.exit_code == 3


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _job_pids(job_dir: Path, names: list[str], seconds: float = 20) -> list[int]:
    """Wait until the job has written each of these pid files, and read them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        files = [job_dir / name for name in names]
        if all(f.exists() and f.read_text().strip() for f in files):
            return [int(f.read_text()) for f in files]
        time.sleep(0.05)
    raise AssertionError(f"the job did not write {names}")


def _wait_gone(pids: list[int], seconds: float = 30) -> list[int]:
    """Wait (generously) for every pid to end; return those still alive at the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test started; whatever the test's outcome, none survives it."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# The job starts a child in the background that starts a grandchild, then waits. With job
# control on (``set -m``) the child runs in a process group of its own, out of reach of
# ``timeout``, which only signals its own group: only killing the whole session stops it.
_TREE = ("set -m\n"
         "echo $$ > job.pid\n"
         "( sleep 300 & echo $! > grandchild.pid; wait ) &\n"
         "echo $! > child.pid\n"
         "wait\n"
         "echo late > late.txt")


def test_cancel_ends_every_process_of_the_job_before_reporting_cancelled(
        tmp_path: Path, leftovers: list[int]) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-cancel-0001"
    scheduler.submit(submission(tmp_path, key, _TREE, minutes=10))
    pids = _job_pids(tmp_path / key, ["job.pid", "child.pid", "grandchild.pid"])
    leftovers.extend(pids)
    assert scheduler.query([key])[key].state is JobState.RUNNING
    scheduler.cancel([key])
    assert scheduler.query([key])[key].state is JobState.CANCELLED
    assert _wait_gone(pids) == []
    assert not (tmp_path / key / "late.txt").exists()


def test_cancel_kills_a_job_that_ignores_term_after_the_grace(
        tmp_path: Path, leftovers: list[int]) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"), cancel_grace=1)
    key = "heroes-local-stubborn-0001"
    scheduler.submit(submission(tmp_path, key, "trap '' TERM\n" + _TREE, minutes=10))
    pids = _job_pids(tmp_path / key, ["job.pid", "child.pid", "grandchild.pid"])
    leftovers.extend(pids)
    scheduler.cancel([key])
    assert scheduler.query([key])[key].state is JobState.CANCELLED
    assert _wait_gone(pids) == []


def test_cancel_leaves_a_finished_job_completed(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-done-0001"
    scheduler.submit(submission(tmp_path, key, "true"))
    assert wait_final(scheduler, key).state is JobState.COMPLETED
    scheduler.cancel([key])
    assert scheduler.query([key])[key].state is JobState.COMPLETED


@pytest.mark.parametrize("key", ["heroes-aaaaaaaa,heroes-bbbbbbbb", "../../etc", "heroes-aaaaaaaa/.."])
def test_local_find_query_and_cancel_refuse_anything_but_keys(key: str) -> None:
    from tests.unit.heroes_core.fakes import ScriptedTransport
    transport = ScriptedTransport({})
    scheduler = LocalScheduler(transport, "/reg")
    for call in (lambda: scheduler.find(key), lambda: scheduler.query([key]),
                 lambda: scheduler.cancel([key])):
        with pytest.raises(SpecError, match="is not a HEROES job key"):
            call()
    assert transport.calls == []


def test_a_gpu_job_is_refused_before_anything_starts(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-gpu-0001"
    job = submission(tmp_path, key, "touch ran").model_copy(update={"gpus": 1})
    with pytest.raises(SpecError, match="cannot give GPUs"):
        scheduler.submit(job)
    assert scheduler.find(key) == [] and not (tmp_path / key / "ran").exists()
