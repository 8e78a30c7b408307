"""The identity provider block: HEROES' Keycloak realm and how to administer it."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import SecretStr

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL, core_setting
from heroes_core.identity import IdentityAdmin, KeycloakSettings, TokenVerifier


class KeycloakRealm(Block):
    """HEROES' Keycloak realm: one realm for every organisation (docs/decisions/0004).

    ``admin()`` provisions organisations, projects, users, roles and service accounts in
    it; ``verifier()`` checks the realm's access tokens offline against its published keys.
    The administrator logs in to ``admin_realm`` with a user and password, or with a
    confidential client's credentials (``admin_client_id`` and ``admin_client_secret``).
    """

    _block_type_name = "HEROES Keycloak Realm"
    _block_type_slug = "heroes-keycloak-realm"
    _logo_url = LOGO_BASE_URL + "identity_provider.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#the-identity-provider-keycloak"  # type: ignore[assignment]
    _description = "The Keycloak realm where HEROES keeps organisations, users and roles, and checks tokens."
    _code_example = """
    from heroes.blocks import KeycloakRealm

    realm = KeycloakRealm.load("BLOCK_NAME")
    realm.admin().ensure_organisation("acme")
    identity = realm.verifier().identity(access_token)
    """

    # The core defines these settings (heroes_core.identity.KeycloakSettings).
    server_url: str = core_setting(KeycloakSettings, "server_url")
    realm: str = core_setting(KeycloakSettings, "realm")
    admin_realm: str = core_setting(KeycloakSettings, "admin_realm")
    admin_user: str | None = core_setting(KeycloakSettings, "admin_user")
    admin_password: SecretStr | None = core_setting(KeycloakSettings, "admin_password")
    admin_client_id: str = core_setting(KeycloakSettings, "admin_client_id")
    admin_client_secret: SecretStr | None = core_setting(KeycloakSettings, "admin_client_secret")
    audience: str = core_setting(KeycloakSettings, "audience")
    cli_client_id: str = core_setting(KeycloakSettings, "cli_client_id")
    verify_tls: bool = core_setting(KeycloakSettings, "verify_tls")
    timeout: int = core_setting(KeycloakSettings, "timeout")

    def settings(self) -> KeycloakSettings:
        """The core's settings, checked as the core checks them."""
        return KeycloakSettings(**{name: getattr(self, name) for name in KeycloakSettings.model_fields})

    def admin(self) -> IdentityAdmin:
        """Provisioning of this realm (logs in at its first call)."""
        return IdentityAdmin(self.settings())

    def verifier(self, **options: Any) -> TokenVerifier:
        """A verifier of this realm's access tokens: issuer ``<server_url>/realms/<realm>``, keys
        from ``<issuer>/protocol/openid-connect/certs``, audience ``audience``."""
        return self.settings().verifier(**options)
