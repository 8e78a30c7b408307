"""Data management (module 4): users' areas in the archive, quotas, and moving data to the centres."""

from heroes_core.data._endpoints import HEROES_PREFIX, S3Endpoint, SFTPEndpoint, check_bucket_template
from heroes_core.data._locations import ArchiveLocation, LocalLocation, Location, SFTPLocation
from heroes_core.data._rclone import ARCHIVE, CENTRE, Rclone, RcloneError
from heroes_core.data.archive import Archive, ArchiveObject, Download, UploadTicket
from heroes_core.data.areas import ArchivePath, Area, AreaKind, parse_path, require_access
from heroes_core.data.quotas import ARCHIVE_PLACE, Holder, Quota, Quotas, QuotaScope
from heroes_core.data.service import DataService
from heroes_core.data.transfer_log import TransferLog, TransferOutcome, TransferRecord
from heroes_core.data.transfers import (
    MissingSourceError,
    ProgressCallback,
    Requester,
    TransferLimitError,
    TransferOptions,
    TransferProgress,
    TransferReport,
    TransferRequest,
    transfer,
)

__all__ = [
    "ARCHIVE",
    "ARCHIVE_PLACE",
    "CENTRE",
    "HEROES_PREFIX",
    "Archive",
    "ArchiveLocation",
    "ArchiveObject",
    "ArchivePath",
    "Area",
    "AreaKind",
    "DataService",
    "Download",
    "Holder",
    "LocalLocation",
    "Location",
    "MissingSourceError",
    "ProgressCallback",
    "Quota",
    "QuotaScope",
    "Quotas",
    "Rclone",
    "RcloneError",
    "Requester",
    "S3Endpoint",
    "SFTPEndpoint",
    "SFTPLocation",
    "TransferLimitError",
    "TransferLog",
    "TransferOptions",
    "TransferOutcome",
    "TransferProgress",
    "TransferRecord",
    "TransferReport",
    "TransferRequest",
    "UploadTicket",
    "check_bucket_template",
    "parse_path",
    "require_access",
    "transfer",
]
