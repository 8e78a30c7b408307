"""Prefect blocks: how provider admins register centres, the archive and the identity provider.

``prefect block register -m heroes.blocks`` registers every block here.
"""

from heroes.blocks.application_catalog import ApplicationCatalog
from heroes.blocks.aws_account import AWSAccount
from heroes.blocks.central_archive import CentralArchive
from heroes.blocks.database import HeroesDatabase
from heroes.blocks.hpc_centre import HPCCentre
from heroes.blocks.identity_provider import KeycloakRealm
from heroes.blocks.log_sink import LogSink
from heroes.blocks.oci_account import OCIAccount

__all__ = [
    "AWSAccount",
    "ApplicationCatalog",
    "CentralArchive",
    "HPCCentre",
    "HeroesDatabase",
    "KeycloakRealm",
    "LogSink",
    "OCIAccount",
]
