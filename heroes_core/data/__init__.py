"""Data movement between the central archive and the centres."""

from heroes_core.data._endpoints import HEROES_PREFIX, S3Endpoint, SFTPEndpoint, check_bucket_template
from heroes_core.data._rclone import ARCHIVE, CENTRE, Rclone, TransferReport

__all__ = [
    "ARCHIVE",
    "CENTRE",
    "HEROES_PREFIX",
    "Rclone",
    "S3Endpoint",
    "SFTPEndpoint",
    "TransferReport",
    "check_bucket_template",
]
