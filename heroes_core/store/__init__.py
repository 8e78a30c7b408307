"""The project database: engine, transactions, shared column types and the schema's migrations.

It knows no domain module. Costs, decision history and enrolments define their tables on
:class:`Base` with the column types here; their migrations live in ``migrations/versions``.
"""

from heroes_core.store._base import Base
from heroes_core.store._database import Database, default_url, make_engine, migrate, shared_database
from heroes_core.store._types import Cents, ExactDecimal, Money, UTCDateTime

__all__ = [
    "Base",
    "Cents",
    "Database",
    "ExactDecimal",
    "Money",
    "UTCDateTime",
    "default_url",
    "make_engine",
    "migrate",
    "shared_database",
]
