"""Price book and budgets over the shared throw-away database (``tests/unit/heroes_core/conftest.py``)."""


import pytest

from heroes_core.costs.budgets import Budgets
from heroes_core.costs.price_book import PriceBook
from heroes_core.store import Database


@pytest.fixture
def prices(database: Database) -> PriceBook:
    return PriceBook(database)


@pytest.fixture
def budgets(database: Database, prices: PriceBook) -> Budgets:
    return Budgets(database, prices)
