"""Where data lives: the central archive (S3) and a centre's file system (SFTP).

Archive layout, per organisation bucket: ``<user>/`` is a user's home (their
inputs, ``jobs/<key>/`` outputs); ``_heroes/`` holds what HEROES itself owns
(ledger exports, Terraform state). User names start with a letter or digit,
so no user's prefix can ever be ``_heroes/``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from heroes_core.errors import SpecError
from heroes_core.models import ORGANISATION_PATTERN, UserArea
from heroes_core.sites import SiteConfig
from heroes_core.transport import SSHConfig

HEROES_PREFIX = "_heroes"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def check_bucket_template(template: str) -> str:
    """A bucket template names one bucket per organisation and nothing else.

    The organisation is put in exactly once and as is (organisation names are
    already lower-case and bucket-safe), so two organisations never share a
    bucket: ``ACME`` and ``acme`` cannot both exist.
    """
    if template.count("{organisation}") != 1 or template.replace("{organisation}", "").count("{"):
        raise ValueError(f"bucket template {template!r} must contain '{{organisation}}' exactly once "
                         "and no other placeholder")
    example = template.format(organisation="a" * 40)
    if not _BUCKET.fullmatch(example) or "--" in template.replace("{organisation}", ""):
        raise ValueError(f"bucket template {template!r} does not make valid S3 bucket names "
                         "(lower-case letters, digits and '-', at most 63 characters)")
    return template


# A bucket template, checked wherever one is given.
BucketTemplate = Annotated[str, AfterValidator(check_bucket_template)]


class S3Endpoint(BaseModel):
    """The central archive: an S3 service and how buckets are named.

    Each setting is described here once; the central archive block's form takes its
    fields from this model.
    """

    model_config = ConfigDict(frozen=True)

    endpoint_url: str = Field(description="S3 endpoint URL, e.g. https://s3.example.org.")
    access_key_id: str = Field(description="S3 access key id of the HEROES archive account.")
    secret_access_key: SecretStr = Field(description="S3 secret access key of the archive account.")
    region: str = Field(default="us-east-1", description="S3 region name.")
    bucket_template: BucketTemplate = Field(
        default="heroes-{organisation}",
        description="How an organisation's bucket is named; '{organisation}' is replaced (once).")

    def bucket_for(self, organisation: str) -> str:
        """The organisation's bucket; a name that could share or escape a bucket is refused."""
        if not re.fullmatch(ORGANISATION_PATTERN, organisation):
            raise SpecError(f"organisation name {organisation!r} is not valid", site="archive",
                            fix="use 3-40 lower-case letters, digits and '-' (no leading or "
                                "trailing '-')")
        return self.bucket_template.format(organisation=organisation)

    def bucket(self, area: UserArea) -> str:
        return self.bucket_for(area.organisation)

    def heroes_prefix(self, organisation: str) -> str:
        """'bucket/_heroes': objects HEROES owns in an organisation's bucket, out of users' reach."""
        return f"{self.bucket_for(organisation)}/{HEROES_PREFIX}"

    def user_prefix(self, area: UserArea) -> str:
        """'bucket/user': everything a user owns in the archive lives below it."""
        return f"{self.bucket(area)}/{area.user}"

    def job_prefix(self, area: UserArea, key: str) -> str:
        return f"{self.user_prefix(area)}/jobs/{key}"


class SFTPEndpoint(BaseModel):
    """A centre's login node (or a cloud cluster's headnode) as seen by rclone, with the same
    pinned host key as SSH."""

    model_config = ConfigDict(frozen=True)

    site: str
    host: str
    port: int = 22
    user: str
    private_key: SecretStr
    known_hosts: str = Field(description="known_hosts lines pinning the centre's host key.")
    ssh: SSHConfig | None = Field(
        default=None, description="The site's own SSH connection, to checksum many files in one "
                                  "command (without it, rclone asks for one checksum per file); "
                                  "on the 'openssh' backend, rclone's way in too.")

    @property
    def shared_connection(self) -> bool:
        """Whether rclone reaches this site through its shared OpenSSH master (backend
        'openssh', the way to an MFA login node) rather than logging in with the key."""
        return self.ssh is not None and self.ssh.backend == "openssh"

    @classmethod
    def of_site(cls, config: SiteConfig) -> SFTPEndpoint:
        """rclone's view of a centre's login node, pinned to the same keys (and revocations) as SSH."""
        ssh = config.ssh_config() if config.transport == "ssh" else None
        return cls(site=config.name, host=config.host, port=config.port, user=config.user,
                   private_key=config.private_key, known_hosts=config.ssh_config().known_hosts(),
                   ssh=ssh)
