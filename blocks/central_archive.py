"""The central archive block: the S3 service where users' data lives."""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL
from heroes_core.data import S3Endpoint, check_bucket_template


class CentralArchive(Block):
    """The HEROES central archive: an S3-compatible object store.

    Each organisation has one bucket (named by ``bucket_template``); each user's
    files live below ``<bucket>/<user>/``, each job's outputs below
    ``<bucket>/<user>/jobs/<job key>/``, and what HEROES owns (ledger exports,
    Terraform state) below ``<bucket>/_heroes/``, where no user name can reach.
    """

    _block_type_name = "HEROES Central Archive"
    _block_type_slug = "heroes-central-archive"
    _logo_url = LOGO_BASE_URL + "central_archive.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#the-central-archive"  # type: ignore[assignment]
    _description = "The S3 object store where HEROES keeps users' inputs and job outputs."
    _code_example = """
    from heroes.blocks import CentralArchive

    archive = CentralArchive.load("BLOCK_NAME")
    archive.s3_client().list_buckets()
    """

    endpoint_url: str = Field(description="S3 endpoint URL, e.g. https://s3.example.org.")
    access_key_id: str = Field(description="S3 access key id of the HEROES archive account.")
    secret_access_key: SecretStr = Field(description="S3 secret access key of the archive account.")
    region: str = Field(default="us-east-1", description="S3 region name.")
    bucket_template: str = Field(
        default="heroes-{organisation}",
        description="How an organisation's bucket is named; '{organisation}' is replaced (once).")

    @field_validator("bucket_template")
    @classmethod
    def _one_bucket_per_organisation(cls, value: str) -> str:
        return check_bucket_template(value)

    def endpoint(self) -> S3Endpoint:
        return S3Endpoint(endpoint_url=self.endpoint_url, access_key_id=self.access_key_id,
                          secret_access_key=self.secret_access_key, region=self.region,
                          bucket_template=self.bucket_template)

    def s3_client(self) -> Any:
        """A boto3 S3 client for this archive."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key.get_secret_value())

    def ensure_bucket(self, organisation: str) -> str:
        """Create the organisation's bucket if it does not exist yet; return its name."""
        bucket = self.endpoint().bucket_for(organisation)
        client = self.s3_client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        return bucket
