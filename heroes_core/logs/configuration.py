"""One switch for HEROES' logs: ``HEROES_LOG_FORMAT=ecs``.

:func:`configure` reads it (with ``HEROES_LOG_FILE`` and ``HEROES_LOG_LEVEL``) and rewires
the process's logging in place, whoever set it up before (Prefect's ``logging.yml`` usually):

* always, records are redacted as they are made (a record factory, so no handler, Prefect's
  API handler included, can see a secret);
* with ``ecs``, the console handlers of the root logger are replaced by one writing ECS JSON to
  standard error, a :class:`~heroes_core.logs.sinks.SinkHandler` is added for the sink given
  (or a :class:`~heroes_core.logs.sinks.FileSink` at ``HEROES_LOG_FILE``), and the ``heroes``
  and ``heroes_core`` loggers are set to ``HEROES_LOG_LEVEL`` (INFO). Prefect's run loggers
  (``prefect.flow_runs``, ``prefect.task_runs``) reach the root's handlers, so their records
  come out as ECS too, while Prefect's API handler keeps sending the plain message to the
  Prefect UI.

It is idempotent: a second call changes only what differs (a new sink replaces the old one).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.logs.ecs import HeroesEcsFormatter
from heroes_core.logs.redaction import redact_record
from heroes_core.logs.sinks import FileSink, LogSink, SinkHandler

FORMAT_ENV = "HEROES_LOG_FORMAT"
FILE_ENV = "HEROES_LOG_FILE"
LEVEL_ENV = "HEROES_LOG_LEVEL"
HEROES_LOGGERS = ("heroes", "heroes_core")


class LogSettings(BaseModel):
    """The logging settings a process takes from its environment."""

    model_config = ConfigDict(frozen=True)

    format: Literal["text", "ecs"] = Field(default="text", description=f"{FORMAT_ENV}: ecs switches "
                                                                        "ECS JSON on.")
    level: str = Field(default="INFO", description=f"{LEVEL_ENV}: the level of HEROES' own loggers.")
    file: Path | None = Field(default=None, description=f"{FILE_ENV}: an NDJSON file sink, when no "
                                                        "sink is given.")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> LogSettings:
        env = os.environ if environ is None else environ
        return cls.model_validate({
            "format": env.get(FORMAT_ENV, "text").strip().lower() or "text",
            "level": env.get(LEVEL_ENV, "INFO").strip().upper() or "INFO",
            "file": env.get(FILE_ENV) or None,
        })


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """ECS JSON on standard error, looked up when each record is written (so a stream swapped
    later, by a test runner or a daemon, is followed)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(HeroesEcsFormatter())

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@dataclass
class _State:
    previous_factory: Callable[..., logging.LogRecord]
    format: str = "text"
    console_removed: list[logging.Handler] = field(default_factory=list)
    console: logging.Handler | None = None
    sink_handler: SinkHandler | None = None
    levels: dict[str, int] = field(default_factory=dict)


_lock = threading.RLock()
_state: _State | None = None
_atexit_registered = False


def _is_console(handler: logging.Handler) -> bool:
    return (isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
            and getattr(handler, "stream", None) in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__))


def configure(format: Literal["text", "ecs"] | None = None, *, sink: LogSink | None = None,
              level: str | int | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Set this process's logging up from the arguments, else the environment (module docstring).

    Returns whether ECS output is on.
    """
    global _state, _atexit_registered
    settings = LogSettings.from_environment(environ)
    wanted = format or settings.format
    with _lock:
        if _state is None:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                return redact_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _state = _State(previous_factory=previous)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        if wanted != "ecs":
            _remove_ecs(_state)
            return False
        root = logging.getLogger()
        if _state.format != "ecs":
            _state.console_removed = [handler for handler in root.handlers if _is_console(handler)]
            for handler in _state.console_removed:
                root.removeHandler(handler)
            _state.console = _ConsoleHandler()
            root.addHandler(_state.console)
            _state.format = "ecs"
        resolved = level if level is not None else settings.level
        for name in HEROES_LOGGERS:
            logger = logging.getLogger(name)
            _state.levels.setdefault(name, logger.level)
            logger.setLevel(resolved)
        if sink is None and settings.file is not None and _state.sink_handler is None:
            sink = FileSink(settings.file)
        if sink is not None and (_state.sink_handler is None or _state.sink_handler.sink is not sink):
            if _state.sink_handler is not None:
                root.removeHandler(_state.sink_handler)
                _state.sink_handler.close()
            _state.sink_handler = SinkHandler(sink)
            root.addHandler(_state.sink_handler)
        return True


def current_sink() -> LogSink | None:
    """The sink :func:`configure` installed, if any."""
    with _lock:
        return _state.sink_handler.sink if _state is not None and _state.sink_handler is not None else None


def _remove_ecs(state: _State) -> None:
    root = logging.getLogger()
    if state.sink_handler is not None:
        root.removeHandler(state.sink_handler)
        state.sink_handler.close()
        state.sink_handler = None
    if state.console is not None:
        root.removeHandler(state.console)
        state.console = None
    for handler in state.console_removed:
        if handler not in root.handlers:
            root.addHandler(handler)
    state.console_removed = []
    for name, previous in state.levels.items():
        logging.getLogger(name).setLevel(previous)
    state.levels = {}
    state.format = "text"


def shutdown() -> None:
    """Flush and close the sink (what the process does at exit)."""
    with _lock:
        handler = _state.sink_handler if _state is not None else None
    if handler is not None:
        handler.flush()
        handler.close()


def reset() -> None:
    """Undo :func:`configure`: the handlers, levels and record factory as they were."""
    global _state
    with _lock:
        if _state is None:
            return
        _remove_ecs(_state)
        logging.setLogRecordFactory(_state.previous_factory)
        _state = None
