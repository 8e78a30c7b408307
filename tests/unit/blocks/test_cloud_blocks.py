"""AWSAccount and OCIAccount helpers (hermetic: no AWS, no OCI)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

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


def test_oci_terraform_variables_pass_the_api_key_as_a_0600_file_never_as_a_value(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    account = OCIAccount(tenancy="ocid1.tenancy.oc1..t", user="ocid1.user.oc1..u", fingerprint="12:34",
                         private_key=key, compartment="ocid1.compartment.oc1..c")  # type: ignore[arg-type]
    variables = account.terraform_variables(tmp_path)
    assert "PRIVATE KEY" not in json.dumps(variables) and "private_key" not in variables
    key_file = Path(variables["private_key_path"])
    assert key_file.is_absolute() and key_file.parent == tmp_path.resolve() and key_file.read_text() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert variables["compartment_ocid"] == "ocid1.compartment.oc1..c"


@pytest.mark.parametrize("block", [AWSAccount, OCIAccount])
def test_block_standards_subset(block: type) -> None:
    """The lead adds both to test_block_standards.py; these are its quick checks."""
    for name, field in block.model_fields.items():
        assert field.description and field.description.endswith("."), name
    assert f'{block.__name__}.load("BLOCK_NAME")' in block._code_example
