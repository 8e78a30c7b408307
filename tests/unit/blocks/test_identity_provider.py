"""The KeycloakRealm block gives the core's settings, the verifier of its realm and its admin."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from heroes.blocks import KeycloakRealm
from heroes_core.identity import IdentityAdmin, KeycloakSettings, TokenVerifier


def test_the_verifier_checks_the_realms_issuer_keys_and_audience() -> None:
    block = KeycloakRealm(server_url="https://id.example.org/", realm="heroes",  # type: ignore[arg-type]
                          admin_password="pw", audience="heroes-gateway")
    verifier = block.verifier(cache_seconds=60)
    assert isinstance(verifier, TokenVerifier)
    assert verifier.issuer == "https://id.example.org/realms/heroes"
    assert verifier.jwks_url == "https://id.example.org/realms/heroes/protocol/openid-connect/certs"
    assert verifier.audience == "heroes-gateway" and verifier.cache_seconds == 60


def test_the_block_holds_exactly_the_cores_settings() -> None:
    assert set(KeycloakSettings.model_fields) <= set(KeycloakRealm.model_fields)
    for name, field in KeycloakSettings.model_fields.items():
        assert KeycloakRealm.model_fields[name].description == field.description


def test_admin_is_the_cores_identity_admin_and_hides_the_password() -> None:
    block = KeycloakRealm(server_url="http://127.0.0.1:8180", admin_password="pw-not-shown")  # type: ignore[arg-type]
    admin = block.admin()
    assert isinstance(admin, IdentityAdmin) and admin.settings.realm == "heroes"
    assert "pw-not-shown" not in repr(block) and "pw-not-shown" not in repr(admin.settings)


@pytest.mark.parametrize("fields", [{"realm": "master", "admin_password": "pw"},
                                    {"admin_password": None}])
def test_what_cannot_work_is_refused_before_keycloak_is_called(fields: dict[str, object]) -> None:
    block = KeycloakRealm(server_url="http://127.0.0.1:8180", **fields)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        block.admin()
