"""The second process beside a search: calls answered, failures reported, one call at a time, and a call
stopped when its search ends or its parent dies."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from heroes_core.decision.placement import _side
from heroes_core.decision.placement._side import Call

#: Long enough for the child to start (importing numpy and HiGHS) on a loaded machine.
ANSWER_S = 60.0


@pytest.fixture(autouse=True)
def _fresh_child() -> Iterator[None]:
    """Each test starts without a child and leaves none running."""
    yield
    if _side._child is not None:
        _side._child.kill()
        _side._child = None


def started(function: object, *args: object) -> Call:
    call = Call.start(function, *args)  # type: ignore[arg-type]
    assert call is not None
    return call


def answer(function: object, *args: object) -> object:
    """What ``function(*args)`` returns in the second process, the call then closed."""
    call = started(function, *args)
    try:
        return call.result(ANSWER_S)
    finally:
        call.close()


def test_a_call_returns_the_functions_value_from_another_process() -> None:
    assert answer(os.getpid) not in (None, os.getpid())


def test_the_child_is_kept_for_the_next_call() -> None:
    first = started(os.getpid)
    pid = first.result(ANSWER_S)
    first.close()
    assert answer(os.getpid) == pid


def test_a_failing_call_gives_no_value_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert answer(math.factorial, -1) is None
    assert "ValueError" in caplog.text


def test_a_second_search_meanwhile_gets_no_second_process() -> None:
    first = started(time.sleep, 30)
    try:
        assert Call.start(os.getpid) is None
    finally:
        first.close()
    assert answer(math.factorial, 5) == 120


def test_closing_a_running_call_kills_its_process() -> None:
    call = started(time.sleep, 30)
    child = _side._child
    assert child is not None
    assert call.result() is None  # still sleeping
    call.close()
    assert child.proc.returncode is not None
    assert _side._child is None


def test_a_cancelled_call_gives_no_value_even_once_answered() -> None:
    call = started(math.factorial, 5)
    call.cancel()
    try:
        assert call.result(1.0) is None
    finally:
        call.close()


def test_a_child_that_cannot_start_leaves_the_search_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_side.sys, "executable", "/nonexistent/python")
    assert Call.start(os.getpid) is None
    assert "one process" in caplog.text
    monkeypatch.undo()
    assert answer(math.factorial, 3) == 6  # the lock was released


#: A parent that starts a long call, says its child's pid, and waits: killed by the test mid-call.
_PARENT = """
import time
from heroes_core.decision.placement import _side
call = _side.Call.start(time.sleep, 300)
assert call is not None and _side._child is not None
print(_side._child.proc.pid, flush=True)
time.sleep(300)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an orphan nobody reaps stays a zombie, and is dead)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_child_whose_parent_is_killed_mid_call_ends_too() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _running(child)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + ANSWER_S
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert not _running(child)
    finally:
        if _running(child):
            os.kill(child, signal.SIGKILL)


def test_waiting_says_an_answer_is_there_until_it_is_read() -> None:
    call = started(math.factorial, 5)
    try:
        assert call._child.has_answer(ANSWER_S)
        assert call.waiting()
        assert call.result() == 120
        assert not call.waiting()
    finally:
        call.close()


def test_a_cancelled_call_is_not_waiting_to_be_read() -> None:
    call = started(math.factorial, 5)
    try:
        assert call._child.has_answer(ANSWER_S)
        call.cancel()
        assert not call.waiting()
    finally:
        call.close()


#: Larger than a pipe's buffer (64 KiB), as a 100-job instance is (about 350 KB).
_LARGE = b"x" * 1_000_000


def test_arguments_larger_than_the_pipe_reach_the_child_whole() -> None:
    assert answer(len, _LARGE) == len(_LARGE)


def test_a_call_starts_while_the_child_reads_nothing_and_is_answered_once_it_does() -> None:
    """The caller goes on with its own search while a new child still imports (here: is stopped)."""
    warm = started(os.getpid)
    pid = warm.result(ANSWER_S)
    warm.close()
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGSTOP)
    try:
        begun: list[Call | None] = []
        starter = threading.Thread(target=lambda: begun.append(Call.start(len, _LARGE)))
        starter.start()
        starter.join(ANSWER_S)
        assert not starter.is_alive(), "Call.start waited for the child to read its arguments"
    finally:
        os.kill(pid, signal.SIGCONT)
    call = begun[0]
    assert call is not None
    try:
        assert call.result(ANSWER_S) == len(_LARGE)
    finally:
        call.close()


def test_a_call_cancelled_while_its_arguments_are_sent_leaves_the_next_call_working() -> None:
    call = started(len, _LARGE)
    call.cancel()
    call.close()
    assert answer(math.factorial, 4) == 24
