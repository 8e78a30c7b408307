"""Costs unit tests run on a throw-away SQLite file: real SQL, no server, hermetic."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from heroes_core.costs.budgets import Budgets
from heroes_core.costs.catalogue import PriceBook
from heroes_core.costs.db import Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    yield db
    db.dispose()


@pytest.fixture
def prices(database: Database) -> PriceBook:
    return PriceBook(database)


@pytest.fixture
def budgets(database: Database, prices: PriceBook) -> Budgets:
    return Budgets(database, prices)
