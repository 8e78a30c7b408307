"""The AWS account block: the credentials and region HEROES uses to run cloud nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL
from heroes_core.cloud import AWSNodes


class AWSAccount(Block):
    """An AWS account (an IAM user or role's keys, or a named profile) in one region.

    Give either an access key id with its secret (and a session token for
    temporary credentials) or the name of a profile from the AWS config files of
    the machine running the flows. ``endpoint_url`` points the clients at an
    AWS-compatible endpoint (moto in the tests, a VPC endpoint in production).
    """

    _block_type_name = "HEROES AWS Account"
    _block_type_slug = "heroes-aws-account"
    _logo_url = LOGO_BASE_URL + "aws_account.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#cloud-platforms"  # type: ignore[assignment]
    _description = "AWS credentials and region HEROES uses to deploy and run cloud nodes and clusters."
    _code_example = """
    from heroes.blocks import AWSAccount

    account = AWSAccount.load("BLOCK_NAME")
    account.client("ec2").describe_instances()
    """

    access_key_id: str | None = Field(
        default=None, description="Access key id of the HEROES IAM user; empty when a profile is used.")
    secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key that goes with the access key id.")
    session_token: SecretStr | None = Field(
        default=None, description="Session token, only for temporary (STS) credentials.")
    profile_name: str | None = Field(
        default=None, description="Named profile from the AWS config files, instead of keys.")
    region: str = Field(default="eu-west-1",
                        description="AWS region where HEROES runs nodes, e.g. eu-west-1.")
    endpoint_url: str | None = Field(
        default=None, description="Optional endpoint URL for every AWS service (tests, VPC endpoints).")

    @model_validator(mode="after")
    def _keys_or_profile(self) -> AWSAccount:
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValueError("give both access_key_id and secret_access_key, or neither (then profile_name)")
        if self.access_key_id and self.profile_name:
            raise ValueError("give either access keys or profile_name, not both")
        if self.session_token and not self.access_key_id:
            raise ValueError("a session_token needs access_key_id and secret_access_key")
        return self

    def session(self) -> boto3.Session:
        """A boto3 session with this account's credentials and region."""
        if self.access_key_id and self.secret_access_key:
            return boto3.Session(
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key.get_secret_value(),
                aws_session_token=self.session_token.get_secret_value() if self.session_token else None,
                region_name=self.region)
        return boto3.Session(profile_name=self.profile_name, region_name=self.region)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` in this account's region (and endpoint, if set)."""
        options: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        options.update(kwargs)
        return self.session().client(service, **options)

    def nodes(self) -> AWSNodes:
        """The account's EC2 nodes in its region, as HEROES manages them."""
        return AWSNodes(self.client("ec2"), self.region)

    def terraform_variables(self, secret_dir: str | Path | None = None) -> dict[str, str]:
        """Provider credentials for the Terraform module (written to a private var file, never argv).

        ``secret_dir`` is unused: AWS credentials are plain strings, not key files.
        """
        credentials = self.session().get_credentials()
        if credentials is None:
            raise ValueError(f"no AWS credentials found for profile {self.profile_name!r}")
        frozen = credentials.get_frozen_credentials()
        variables = {"region": self.region, "access_key": frozen.access_key, "secret_key": frozen.secret_key,
                     "token": frozen.token or ""}
        return variables
