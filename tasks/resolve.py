"""How tasks and flows resolve their arguments: a block given by instance is used as is, one
given by name is loaded."""

from __future__ import annotations

from typing import TypeVar

from prefect.blocks.core import Block

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes_core.data import SFTPEndpoint, TransferLog
from heroes_core.logs import register_secrets_of
from heroes_core.store import Database, shared_database

B = TypeVar("B", bound=Block)


def load_block(kind: type[B], block: B | str) -> B:
    """``block`` itself, or the ``kind`` block saved under that name.

    ``Block.load`` hands back a coroutine when called from async code; HEROES' tasks and flows
    are synchronous, so anything but a ``kind`` here is a programming error, reported as one.
    """
    if not isinstance(block, str):
        register_secrets_of(block)
        return block
    loaded = kind.load(block)
    if not isinstance(loaded, kind):
        raise TypeError(f"{kind.__name__}.load({block!r}) gave a {type(loaded).__name__}: "
                        "load blocks from synchronous code")
    register_secrets_of(loaded)  # from now on no log record of this process shows them
    return loaded


def load_centre(centre: HPCCentre | str) -> HPCCentre:
    return load_block(HPCCentre, centre)


def load_archive(archive: CentralArchive | str) -> CentralArchive:
    return load_block(CentralArchive, archive)


def load_database(database: HeroesDatabase | str) -> HeroesDatabase:
    return load_block(HeroesDatabase, database)


def centre_endpoint(centre: HPCCentre | str) -> SFTPEndpoint:
    """rclone's view of a centre's login node (or a cloud cluster's headnode)."""
    return SFTPEndpoint.of_site(load_centre(centre).site_config())


def project_database(database: HeroesDatabase | str | None) -> Database:
    """The database block's database given by instance or name, else the default project
    database (``HEROES_DATABASE_URL`` or the local SQLite file)."""
    return load_database(database).database() if database is not None else shared_database()


def transfer_log(database: HeroesDatabase | str | None) -> TransferLog:
    """Where transfers are recorded (:func:`project_database`)."""
    return TransferLog(project_database(database))
