"""A second process beside a search: one call at a time on the machine's other core.

Some searches need two searches at once: under a deadline as tight as the fastest plan within budget
(see :func:`~heroes_core.decision.placement._search.search`), a plan exists only where the ``time``
search finds one, and that search needs most of the cap, which the search for the strategy's own
objective needs too. Two threads share the GIL (measured: each search slower, plans lost), so the
second search runs in a process of its own.

Why a subprocess running this module rather than :mod:`multiprocessing`: ``spawn`` and ``forkserver``
re-import the caller's main module (a user's script without a ``__main__`` guard would run again), and
``fork`` copies HiGHS's thread pool in whatever state another thread left it.

The child runs at a lower CPU priority (see ``CHILD_NICENESS``): it helps with the time its parent
leaves. It is started on first use and kept: importing numpy and HiGHS takes about half a second. It
takes one call at a time (a function named by module and name, and its arguments, pickled over its
stdin; the result pickled back over its stdout). A search that ends while its call still runs kills
the child, so no core keeps working for a finished solve and the next search finds a fresh child; the
child exits by itself when its stdin closes, that is when the parent exits. When a second process
cannot be had (another thread's search holds it, or it cannot start), callers search alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

_log = logging.getLogger(__name__)
#: How much lower the child's CPU priority is than its parent's. HiGHS also works on a second core for
#: part of a solve, so a child at the same priority slows the search it helps: bench seed 0 ``energy``
#: under both limits lost 6.5% (the parent's ``within_limits`` found no plan in its share of the time).
CHILD_NICENESS = 10
#: How often the child looks whether its parent still lives: a parent killed while a call runs (a cancelled
#: flow run's process) closes the pipe the child reads only between calls, and the call would otherwise run
#: on, on a core, until its own deadline (up to the whole cap of a long solve).
PARENT_CHECK_S = 0.5
#: Length prefix of every message (bytes of the pickle that follows).
_HEADER = struct.Struct("!Q")


class _Child:
    """The running second process and its two pipes."""

    def __init__(self) -> None:
        path = os.pathsep.join(entry for entry in sys.path if entry)
        self.proc = subprocess.Popen(  # our own interpreter, our own module
            [sys.executable, "-c", f"from {__name__} import serve; serve({os.getpid()})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.send_to: IO[bytes] = self.proc.stdin
        self.receive_from: IO[bytes] = self.proc.stdout

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: object) -> None:
        """Write ``message`` from a thread of its own, so the caller goes on at once: the pipe holds 64 KiB,
        a call's arguments (an instance) several times that, and a child still importing numpy and HiGHS
        reads nothing for about half a second (bench tight seed 3: its search began 0.6 s into a 10 s cap).
        A write cut short (the child killed meanwhile) is the end of the call, which :meth:`Call.result`
        reports."""
        payload = _encode(message)
        threading.Thread(target=self._deliver, args=(payload,), daemon=True).start()

    def _deliver(self, payload: bytes) -> None:
        try:
            self.send_to.write(payload)
            self.send_to.flush()
        except (OSError, ValueError) as error:  # ValueError: the pipe was closed by kill()
            _log.debug("placement search's call did not reach the second process: %s", error)

    def has_answer(self, wait: float) -> bool:
        """Whether an answer (or the child's end) can be read, waiting up to ``wait`` seconds for it."""
        readable, _w, _x = select.select([self.receive_from], [], [], max(wait, 0.0))
        return bool(readable)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.send_to, self.receive_from):
            with contextlib.suppress(OSError):  # a pipe to a dead child may not flush
                pipe.close()


_busy = threading.Lock()  # one call at a time: held from Call.start to Call.close
_child: _Child | None = None


class Call:
    """A function call running in the second process."""

    def __init__(self, child: _Child) -> None:
        self._child = child
        self._answered = False
        self._value: object = None

    @classmethod
    def start(cls, function: Callable[..., object], *args: object) -> Call | None:
        """Start ``function(*args)`` (a module-level function, picklable arguments) in the second
        process, or ``None`` when it is busy with another search's call or cannot start."""
        global _child
        if not _busy.acquire(blocking=False):
            return None
        try:
            if _child is None or not _child.alive():
                _child = _Child()
            _child.send((function, args))
        except OSError as error:
            _log.warning("placement search continues in one process: %s", error)
            if _child is not None:
                _child.kill()
            _child = None
            _busy.release()
            return None
        return cls(_child)

    def waiting(self) -> bool:
        """Whether the call has returned and its answer is not yet read."""
        return not self._answered and self._child.has_answer(0.0)

    def result(self, wait: float = 0.0) -> object:
        """The call's return value once it has returned (waiting up to ``wait`` seconds for it); ``None``
        until then, or when it failed."""
        if self._answered or not self._child.has_answer(wait):
            return self._value
        self._answered = True
        try:
            ok, value = _read(self._child.receive_from)
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            _log.warning("placement search's second process ended: %s", error)
            return None
        if not ok:
            _log.warning("placement search's second process failed: %s", value)
            return None
        self._value = value
        return value

    def cancel(self) -> None:
        """Stop the call if it still runs (its process is killed; the next call starts a new one)."""
        global _child
        if not self._answered:
            self._answered = True
            self._child.kill()
            _child = None

    def close(self) -> None:
        """Stop the call if it still runs and release the second process for the next search."""
        self.cancel()
        _busy.release()


def _encode(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def _write(pipe: IO[bytes], message: object) -> None:
    pipe.write(_encode(message))
    pipe.flush()


def _read(pipe: IO[bytes]) -> Any:  # whatever the peer pickled
    header = pipe.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the pipe closed")
    (size,) = _HEADER.unpack(header)
    payload = pipe.read(size)
    if len(payload) < size:
        raise EOFError("the pipe closed mid-message")
    return pickle.loads(payload)  # noqa: S301 - our own child or parent, over a private pipe


def serve(parent: int) -> None:
    """The child's loop: answer calls until stdin closes or the process ``parent`` (the one that started it,
    named rather than looked up, as it may die before the child gets here) ends. Answers go to a copy of
    stdout, and stdout itself to the null device, so nothing a library prints (HiGHS's banner) can corrupt
    a message."""
    os.nice(CHILD_NICENESS)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), sys.stdout.fileno())
    calls = sys.stdin.buffer
    while True:
        try:
            function, args = _read(calls)
        except EOFError:
            return
        try:
            answer: tuple[bool, object] = (True, function(*args))
        except Exception as error:  # reported to the parent, which searches alone
            answer = (False, f"{type(error).__name__}: {error}")
        _write(answers, answer)


def _exit_with(parent: int) -> None:
    """End the child once ``parent`` has gone (it is then another process's child): see ``PARENT_CHECK_S``."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)
