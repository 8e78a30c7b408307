"""The central archive block: its form is the core's S3 endpoint settings."""

import pytest
from pydantic import ValidationError

from heroes.blocks import CentralArchive
from heroes_core.data import S3Endpoint


def test_the_blocks_fields_are_the_endpoints_defined_by_the_core() -> None:
    assert list(CentralArchive.model_fields) == list(S3Endpoint.model_fields)
    for name, field in CentralArchive.model_fields.items():
        expected = S3Endpoint.model_fields[name]
        assert (field.annotation, field.default, field.metadata, field.description) == (
            expected.annotation, expected.default, expected.metadata, expected.description), name
        assert field.description, name


def test_the_block_gives_the_core_its_endpoint() -> None:
    archive = CentralArchive(endpoint_url="http://127.0.0.1:8333", access_key_id="k",
                             secret_access_key="s", bucket_template="lab-{organisation}")  # type: ignore[arg-type]
    endpoint = archive.endpoint()
    assert endpoint.region == "us-east-1" and endpoint.secret_access_key.get_secret_value() == "s"
    assert endpoint.bucket_for("acme") == "lab-acme"


def test_a_bucket_template_the_core_refuses_is_refused_when_the_block_is_made() -> None:
    with pytest.raises(ValidationError, match="exactly once and no other placeholder"):
        CentralArchive(endpoint_url="http://s3", access_key_id="k", secret_access_key="s",  # type: ignore[arg-type]
                       bucket_template="shared-bucket")
