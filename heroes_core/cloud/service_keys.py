"""The SSH key pair HEROES logs in to an organisation's cloud cluster with.

The pair is made once per cluster and kept (by the flow, in a secret) *before* Terraform
runs, so a run after a half-applied cluster uses the key the headnode was given. It is the
service account's key only: the nodes make their own host keys (:mod:`.host_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, SecretStr


class ServiceKeys(BaseModel):
    """The cluster's service-account key pair (ed25519, OpenSSH formats)."""

    model_config = ConfigDict(frozen=True)

    private: SecretStr
    public: str

    @classmethod
    def generate(cls) -> ServiceKeys:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
        return cls(private=SecretStr(private), public=public)

    @classmethod
    def from_stored(cls, stored: object) -> ServiceKeys | None:
        """The pair a secret holds, if it holds one; anything else stored beside it is not kept."""
        if not isinstance(stored, Mapping):
            return None
        private, public = stored.get("service_private"), stored.get("service_public")
        if not private or not public:
            return None
        return cls(private=SecretStr(str(private)), public=str(public))

    def to_stored(self) -> dict[str, str]:
        """What the secret keeps: exactly the pair."""
        return {"service_private": self.private.get_secret_value(), "service_public": self.public}
