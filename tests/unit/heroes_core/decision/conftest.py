"""The metadata store over the shared throw-away database (``tests/unit/heroes_core/conftest.py``)."""

import pytest

from heroes_core.costs.db import Database
from heroes_core.decision.metadata import MetadataStore


@pytest.fixture
def store(database: Database) -> MetadataStore:
    return MetadataStore(database)
