"""Archive buckets the tests make, and their removal.

The test bed's S3 server (SeaweedFS) gives each bucket volumes of its own, and has room for
a bounded number: buckets left behind by every run would fill it. So whatever buckets a test
session created are emptied (objects and unfinished uploads) and deleted when it ends.
"""

from __future__ import annotations

from typing import Any


def s3_client() -> Any:
    from heroes.blocks import CentralArchive

    return CentralArchive.load("heroes-archive").s3_client()


def bucket_names(client: Any) -> set[str]:
    return {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}


def drop_bucket(client: Any, bucket: str) -> None:
    """Empty ``bucket`` (objects and unfinished multipart uploads), then delete it."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    client.delete_bucket(Bucket=bucket)
