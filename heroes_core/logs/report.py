"""How logging reports its own failures: on standard error, once per kind, never by raising.

A log sink that cannot write must not fail the workflow it is recording, and must not bury the
terminal under one traceback per record either. Each kind of failure (cluster unreachable,
spool disk full, ...) is written once when it starts and once when it clears.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

PREFIX = "HEROES logging: "


class FailureReporter:
    """Writes each kind of logging failure to standard error once, until it clears."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._active: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> dict[str, str]:
        """The failures in force, by kind, with the message first written for each."""
        with self._lock:
            return dict(self._active)

    def failed(self, kind: str, message: str) -> None:
        with self._lock:
            if kind in self._active:
                return
            self._active[kind] = message
        self._write(message)

    def cleared(self, kind: str, message: str) -> None:
        with self._lock:
            if self._active.pop(kind, None) is None:
                return
        self._write(message)

    def _write(self, message: str) -> None:
        try:
            stream = self._stream or sys.stderr
            stream.write(PREFIX + message + "\n")
            stream.flush()
        except Exception:  # noqa: S110 - nowhere left to report to; logging must not raise
            pass
