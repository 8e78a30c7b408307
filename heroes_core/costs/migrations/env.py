"""Alembic environment: runs on the connection handed over by heroes_core.costs.db.migrate."""

from alembic import context

import heroes_core.decision.metadata  # noqa: F401
from heroes_core.costs.schema import Base
from heroes_core.enrolment.enrolments import CentreEnrolment  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
