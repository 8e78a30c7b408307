"""How tasks and flows resolve their arguments: a block given by instance is used as is, one
given by name is loaded."""

from __future__ import annotations

from typing import TypeVar

from prefect.blocks.core import Block

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes_core.data import Rclone, SFTPEndpoint

B = TypeVar("B", bound=Block)


def load_block(kind: type[B], block: B | str) -> B:
    """``block`` itself, or the ``kind`` block saved under that name.

    ``Block.load`` hands back a coroutine when called from async code; HEROES' tasks and flows
    are synchronous, so anything but a ``kind`` here is a programming error, reported as one.
    """
    if not isinstance(block, str):
        return block
    loaded = kind.load(block)
    if not isinstance(loaded, kind):
        raise TypeError(f"{kind.__name__}.load({block!r}) gave a {type(loaded).__name__}: "
                        "load blocks from synchronous code")
    return loaded


def load_centre(centre: HPCCentre | str) -> HPCCentre:
    return load_block(HPCCentre, centre)


def load_archive(archive: CentralArchive | str) -> CentralArchive:
    return load_block(CentralArchive, archive)


def load_database(database: HeroesDatabase | str) -> HeroesDatabase:
    return load_block(HeroesDatabase, database)


def rclone_between(archive: CentralArchive, centre: HPCCentre) -> Rclone:
    return Rclone(archive.endpoint(), SFTPEndpoint.of_site(centre.site_config()))
