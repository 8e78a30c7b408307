"""Engine and transactions: SQLite by default, PostgreSQL by URL, schema by Alembic.

Budget operations must be atomic under concurrency. On PostgreSQL that is
row locks (``SELECT ... FOR UPDATE``); SQLite has no row locks, so every
transaction there starts with ``BEGIN IMMEDIATE``, which takes the database's
write lock up front and makes concurrent writers queue instead of interleave.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def default_url() -> str:
    """``HEROES_DATABASE_URL``, else a SQLite file under ``HEROES_HOME`` (no configuration)."""
    url = os.environ.get("HEROES_DATABASE_URL")
    if url:
        return url
    home = Path(os.environ.get("HEROES_HOME", Path.home() / ".local" / "share" / "heroes"))
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'heroes.db'}"


def _sqlite_immediate(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: :func:`default_url`) with HEROES' transaction rules."""
    url = url or default_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)
        _sqlite_immediate(engine)
    else:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class Database:
    """An engine plus sessions whose transactions commit or roll back as a whole."""

    def __init__(self, url: str | None = None, *, create: bool = True, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            migrate(self.engine)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic unit of work: all of it is written, or none of it."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


_shared: dict[str, Database] = {}
_shared_lock = threading.Lock()


def shared_database(url: str | None = None) -> Database:
    """The process-wide :class:`Database` for ``url``: migrated once, pooled connections."""
    key = url or default_url()
    with _shared_lock:
        database = _shared.get(key)
        if database is None:
            database = _shared[key] = Database(key)
        return database
