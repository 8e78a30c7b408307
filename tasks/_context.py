"""How tasks resolve their arguments: blocks by name or by instance."""

from __future__ import annotations

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes_core.data import Rclone, SFTPEndpoint


def load_centre(centre: HPCCentre | str) -> HPCCentre:
    return HPCCentre.load(centre) if isinstance(centre, str) else centre  # type: ignore[return-value]


def load_archive(archive: CentralArchive | str) -> CentralArchive:
    return CentralArchive.load(archive) if isinstance(archive, str) else archive  # type: ignore[return-value]


def load_database(database: HeroesDatabase | str) -> HeroesDatabase:
    return HeroesDatabase.load(database) if isinstance(database, str) else database  # type: ignore[return-value]


def rclone_between(archive: CentralArchive, centre: HPCCentre) -> Rclone:
    return Rclone(archive.endpoint(), SFTPEndpoint.of_site(centre.site_config()))
