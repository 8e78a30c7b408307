"""What the logging tests share: a reporter they can read, a logger writing ECS into a buffer."""

from __future__ import annotations

import io
import logging

import heroes_core.logs as logs
from heroes_core.logs.report import FailureReporter


class Reported(FailureReporter):
    """A reporter writing to a buffer the test reads."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__(self.buffer)

    @property
    def lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()


def capture(logger_name: str, formatter: logging.Formatter | None = None) -> tuple[logging.Logger, io.StringIO]:
    """A logger of its own (not propagating) writing ECS lines into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or logs.HeroesEcsFormatter())
    logger = logging.getLogger(logger_name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream
