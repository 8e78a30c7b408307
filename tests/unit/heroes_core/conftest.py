"""Unit tests that need the project database get a throw-away SQLite file: real SQL, no server, hermetic."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from heroes_core.store import Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    yield db
    db.dispose()
