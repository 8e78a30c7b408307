"""The central archive block: the S3 service where users' data lives."""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
from prefect.blocks.core import Block
from pydantic import SecretStr

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL, core_setting
from heroes_core.data import S3Endpoint
from heroes_core.data.archive import Archive


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

    # The core defines these settings (heroes_core.data.S3Endpoint).
    endpoint_url: str = core_setting(S3Endpoint, "endpoint_url")
    access_key_id: str = core_setting(S3Endpoint, "access_key_id")
    secret_access_key: SecretStr = core_setting(S3Endpoint, "secret_access_key")
    region: str = core_setting(S3Endpoint, "region")
    bucket_template: str = core_setting(S3Endpoint, "bucket_template")  # checked as the core checks it

    def endpoint(self) -> S3Endpoint:
        return S3Endpoint(**{name: getattr(self, name) for name in S3Endpoint.model_fields})

    def archive(self) -> Archive:
        """Users' areas in this archive: presigned uploads and downloads, listing, moving."""
        return Archive(self.endpoint())

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
