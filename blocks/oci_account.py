"""The OCI account block: the API signing key HEROES uses on Oracle Cloud Infrastructure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL
from heroes_core.cloud.terraform import PROVIDER_KEY_FILE, write_private


class OCIAccount(Block):
    """An OCI user's API signing key in one tenancy and region.

    The fields are those of an ``~/.oci/config`` profile; the private key is the
    PEM text itself (not a path), so the flows need no file on disk.
    """

    _block_type_name = "HEROES OCI Account"
    _block_type_slug = "heroes-oci-account"
    _logo_url = LOGO_BASE_URL + "oci_account.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#cloud-platforms"  # type: ignore[assignment]
    _description = "OCI API key, tenancy and region HEROES uses to deploy and run cloud nodes and clusters."
    _code_example = """
    from heroes.blocks import OCIAccount
    import oci

    account = OCIAccount.load("BLOCK_NAME")
    compute = oci.core.ComputeClient(account.config())
    """

    tenancy: str = Field(description="OCID of the tenancy, e.g. ocid1.tenancy.oc1..aaaa.")
    user: str = Field(description="OCID of the HEROES API user, e.g. ocid1.user.oc1..aaaa.")
    fingerprint: str = Field(description="Fingerprint of the API signing key, e.g. 12:34:...:ef.")
    private_key: SecretStr = Field(description="Private API signing key, PEM text (unencrypted).")
    region: str = Field(default="eu-frankfurt-1", description="OCI region identifier, e.g. eu-frankfurt-1.")
    compartment: str | None = Field(
        default=None, description="OCID of the compartment for HEROES resources; the tenancy if empty.")

    def config(self) -> dict[str, Any]:
        """A config dict for the ``oci`` SDK clients, validated by the SDK when it is installed."""
        config: dict[str, Any] = {
            "tenancy": self.tenancy, "user": self.user, "fingerprint": self.fingerprint,
            "key_content": self.private_key.get_secret_value(), "region": self.region,
        }
        try:
            import oci  # type: ignore[import-untyped]
        except ImportError:  # the SDK is optional: only OCI flows need it
            return config
        oci.config.validate_config(config)
        return config

    def compartment_id(self) -> str:
        return self.compartment or self.tenancy

    def terraform_variables(self, secret_dir: str | Path) -> dict[str, str]:
        """Provider settings for the Terraform module (written to a private var file, never argv).

        The API signing key itself is written to ``secret_dir`` (mode 0600) and
        only its path is a variable, so the variables file and the saved plan hold
        no private key.
        """
        key_file = Path(secret_dir).resolve() / PROVIDER_KEY_FILE
        write_private(key_file, self.private_key.get_secret_value())
        return {"region": self.region, "tenancy_ocid": self.tenancy, "user_ocid": self.user,
                "fingerprint": self.fingerprint, "private_key_path": str(key_file),
                "compartment_ocid": self.compartment_id()}
