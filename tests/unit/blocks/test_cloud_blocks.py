"""AWSAccount and OCIAccount helpers (hermetic: no AWS, no OCI)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from heroes.blocks.aws_account import AWSAccount
from heroes.blocks.oci_account import OCIAccount


def test_aws_account_keys_session_and_client() -> None:
    account = AWSAccount(access_key_id="AKIA1", secret_access_key="s3cret", session_token="tok-9f3e",  # type: ignore[arg-type]
                         region="eu-west-3", endpoint_url="http://127.0.0.1:5000")
    assert "s3cret" not in repr(account) and "tok-9f3e" not in repr(account)
    credentials = account.session().get_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("AKIA1", "s3cret", "tok-9f3e")
    client = account.client("ec2")
    assert client.meta.region_name == "eu-west-3" and client.meta.endpoint_url == "http://127.0.0.1:5000"
    assert account.nodes().site == "aws:eu-west-3"
    assert account.terraform_variables() == {"region": "eu-west-3", "access_key": "AKIA1",
                                             "secret_key": "s3cret", "token": "tok-9f3e"}


def test_aws_account_keys_or_profile() -> None:
    with pytest.raises(ValidationError, match="both"):
        AWSAccount(access_key_id="AKIA1")
    with pytest.raises(ValidationError, match="not both"):
        AWSAccount(access_key_id="A", secret_access_key="s", profile_name="p")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="session_token"):
        AWSAccount(session_token="t")  # type: ignore[arg-type]
    assert AWSAccount(profile_name="heroes").profile_name == "heroes"


def test_oci_account_config_is_validated_by_the_sdk() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    account = OCIAccount(tenancy="ocid1.tenancy.oc1..t", user="ocid1.user.oc1..u",
                         fingerprint="12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0",
                         private_key=key, region="eu-frankfurt-1")  # type: ignore[arg-type]
    config = account.config()
    assert config["key_content"] == key and config["region"] == "eu-frankfurt-1"
    assert "PRIVATE" not in repr(account) and account.compartment_id() == "ocid1.tenancy.oc1..t"
    bad = account.model_copy(update={"user": "not-an-ocid"})
    import oci
    with pytest.raises(oci.exceptions.InvalidConfig):
        bad.config()


@pytest.mark.parametrize("block", [AWSAccount, OCIAccount])
def test_block_standards_subset(block: type) -> None:
    """The lead adds both to test_block_standards.py; these are its quick checks."""
    for name, field in block.model_fields.items():
        assert field.description and field.description.endswith("."), name
    assert f'{block.__name__}.load("BLOCK_NAME")' in block._code_example
