"""Where data lives: the central archive (S3) and a centre's file system (SFTP)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from heroes_core.models import UserArea


class S3Endpoint(BaseModel):
    """The central archive: an S3 service and how buckets are named."""

    model_config = ConfigDict(frozen=True)

    endpoint_url: str
    access_key_id: str
    secret_access_key: SecretStr
    region: str = "us-east-1"
    bucket_template: str = Field(default="heroes-{organisation}")

    def bucket(self, area: UserArea) -> str:
        return self.bucket_template.format(organisation=area.organisation.lower())

    def user_prefix(self, area: UserArea) -> str:
        """'bucket/user': everything a user owns in the archive lives below it."""
        return f"{self.bucket(area)}/{area.user}"

    def job_prefix(self, area: UserArea, key: str) -> str:
        return f"{self.user_prefix(area)}/jobs/{key}"


class SFTPEndpoint(BaseModel):
    """A centre's login node as seen by rclone, with the same pinned host key as SSH."""

    model_config = ConfigDict(frozen=True)

    site: str
    host: str
    port: int = 22
    user: str
    private_key: SecretStr
    known_hosts: str = Field(description="known_hosts lines pinning the centre's host key.")
