"""Data movement between the central archive and the centres."""

from heroes_core.data._endpoints import S3Endpoint, SFTPEndpoint
from heroes_core.data._rclone import ARCHIVE, CENTRE, Rclone, TransferReport

__all__ = ["ARCHIVE", "CENTRE", "Rclone", "S3Endpoint", "SFTPEndpoint", "TransferReport"]
