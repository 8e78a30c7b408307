"""The one declarative base: a module's tables join the project database by subclassing it."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Tables of every module (costs, decision history, enrolments, ...) share this metadata.

    The store knows none of them: each module imports ``Base`` and defines its tables,
    and ships an Alembic revision under ``heroes_core/store/migrations/versions``.
    """
