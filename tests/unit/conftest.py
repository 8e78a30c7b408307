"""Unit tests are hermetic: no test bed, no Prefect server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from heroes_core.transport import CONTROL_DIR_ENV


@pytest.fixture
def control_dir_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private directory for OpenSSH master sockets, named in the environment as HEROES reads it
    (a Unix socket path is at most ~100 bytes; pytest's temporary paths are longer)."""
    path = Path(tempfile.mkdtemp(prefix="hs-", dir="/tmp"))
    monkeypatch.setenv(CONTROL_DIR_ENV, str(path / "ssh"))
    yield path / "ssh"
    shutil.rmtree(path)
