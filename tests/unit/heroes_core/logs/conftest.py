"""Each test starts from the process's logging as it was, and leaves it so."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import heroes_core.logs as logs
from tests.unit.heroes_core.logs.helpers import Reported


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.reset()
    yield
    logs.reset()
    logs.SECRETS.clear()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def reported() -> Reported:
    return Reported()
