"""The metadata store over the shared throw-away database (``tests/unit/heroes_core/conftest.py``)."""

import pytest

from heroes_core.decision.metadata import MetadataStore
from heroes_core.store import Database


@pytest.fixture
def store(database: Database) -> MetadataStore:
    return MetadataStore(database)
