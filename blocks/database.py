"""The project database block: where prices, budgets and the ledger live."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL
from heroes_core.costs import Budgets, PriceBook
from heroes_core.store import Database, shared_database


class HeroesDatabase(Block):
    """The HEROES project database (prices with history, budgets, consumption ledger).

    Empty URL: a SQLite file under ``$HEROES_HOME`` (no configuration needed).
    Production: a PostgreSQL URL such as ``postgresql+psycopg://user:pw@host/heroes``.
    """

    _block_type_name = "HEROES Database"
    _block_type_slug = "heroes-database"
    _logo_url = LOGO_BASE_URL + "database.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#the-project-database"  # type: ignore[assignment]
    _description = "The HEROES project database: prices, budgets and the consumption ledger."
    _code_example = """
    from heroes.blocks import HeroesDatabase

    database = HeroesDatabase.load("BLOCK_NAME")
    budgets = database.budgets()
    print(budgets.budgets_of("my-organisation"))
    """

    url: SecretStr = Field(
        default=SecretStr(""),
        description="SQLAlchemy URL (SQLite or PostgreSQL); empty means the default SQLite file.")

    def database(self) -> Database:
        """The shared, migrated database for this URL."""
        return shared_database(self.url.get_secret_value() or None)

    def budgets(self) -> Budgets:
        """Budgets over this database, with its price book."""
        database = self.database()
        return Budgets(database, PriceBook(database))
