"""Alembic environment: runs on the connection handed over by heroes_core.store.migrate.

Revisions are written by hand, one per schema change of any module; ``target_metadata``
holds the tables of whichever modules this process imported (enough for ``compare_metadata``
in the tests, which import every module that defines tables).
"""

from alembic import context

from heroes_core.store import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
