"""A hermetic Keycloak for the CLI: its token, device, logout and JWKS endpoints served in-process.

Tokens are real JWTs signed with a key made here and verified by the real ``TokenVerifier``
(only its key fetch goes through ``httpx.MockTransport``); the OAuth grants go through the
CLI's real HTTP code. Only the admin connection is a small in-memory fake, since it stands
for Keycloak's admin API, which a unit test cannot reach.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr
from typer.testing import CliRunner

from heroes.cli import _session
from heroes_core.data.areas import Area
from heroes_core.identity import Identity, KeycloakSettings, Role, TokenVerifier, UserRecord
from heroes_core.identity import oidc as _oidc

SETTINGS = KeycloakSettings(server_url="http://kc.test", realm="heroes", admin_password=SecretStr("admin-pw"))
ENDPOINTS = f"{SETTINGS.issuer}/protocol/openid-connect"


@dataclass
class Member:
    organisation: str
    password: str
    roles: set[Role]
    projects: set[str] = field(default_factory=set)
    enabled: bool = True


class FakeKeycloak:
    """The realm's OIDC endpoints over a dict of members; counts what it was asked."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True) | {
            "kid": "k1", "use": "sig", "alg": "RS256"}
        self.members: dict[str, Member] = {
            "dave": Member("heroes", "dave-pw", {Role.SOLUTION_ADMIN, Role.TENANT_ADMIN}),
            "alice": Member("acme", "alice-pw", {Role.ENGINEER}, {"climate"}),
            "bob": Member("acme", "bob-pw", {Role.PROJECT_ADMIN}),
            "carol": Member("globex", "carol-pw", {Role.ENGINEER, Role.WORKFLOW_ADMIN}, {"climate"}),
        }
        self.sessions: dict[str, str] = {}  # refresh token -> user
        self.grants: list[str] = []
        self.device_polls = 0
        self.device_user = "alice"
        self.access_lifetime = 300
        self.logged_out: list[str] = []
        self.device_challenge = ""

    def access_token(self, user: str, lifetime: int | None = None) -> str:
        member, now = self.members[user], int(time.time())
        claims = {"iss": SETTINGS.issuer, "aud": ["heroes-gateway", "account"], "sub": f"id-{user}",
                  "typ": "Bearer", "iat": now, "exp": now + (lifetime or self.access_lifetime),
                  "preferred_username": user, "organization": [member.organisation],
                  "realm_access": {"roles": [*sorted(role.value for role in member.roles), "offline_access"]},
                  "groups": [f"/{member.organisation}/projects/{p}" for p in sorted(member.projects)]}
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": "k1"})

    def _tokens(self, user: str) -> httpx.Response:
        refresh = uuid.uuid4().hex
        self.sessions[refresh] = user
        return httpx.Response(200, json={"access_token": self.access_token(user), "expires_in": self.access_lifetime,
                                         "refresh_token": refresh, "refresh_expires_in": 1800,
                                         "token_type": "Bearer"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == f"{ENDPOINTS}/certs":
            return httpx.Response(200, json={"keys": [self.jwk]})
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        assert form.get("client_id") == "heroes-cli"
        if url == f"{ENDPOINTS}/auth/device":
            assert form["code_challenge_method"] == "S256"
            self.device_challenge = form["code_challenge"]
            return httpx.Response(200, json={"device_code": "dev-1", "user_code": "ABCD-EFGH",
                                             "verification_uri": "http://kc.test/realms/heroes/device",
                                             "verification_uri_complete": "http://kc.test/device?code=ABCD-EFGH",
                                             "expires_in": 600, "interval": 0})
        if url == f"{ENDPOINTS}/logout":
            self.logged_out.append(self.sessions.pop(form["refresh_token"]))
            return httpx.Response(204)
        assert url == f"{ENDPOINTS}/token", url
        grant = form["grant_type"]
        self.grants.append(grant)
        if grant == "password":
            member = self.members.get(form["username"])
            if member is None or member.password != form["password"]:
                return httpx.Response(401, json={"error": "invalid_grant",
                                                 "error_description": "Invalid user credentials"})
            return self._tokens(form["username"])
        if grant == "refresh_token":
            user = self.sessions.pop(form["refresh_token"], None)
            if user is None:
                return httpx.Response(400, json={"error": "invalid_grant",
                                                 "error_description": "Session not active"})
            return self._tokens(user)
        if grant == _oidc.DEVICE_GRANT:
            digest = hashlib.sha256(form["code_verifier"].encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != self.device_challenge:
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
            self.device_polls += 1
            if self.device_polls < 2:
                return httpx.Response(400, json={"error": "authorization_pending"})
            return self._tokens(self.device_user)
        return httpx.Response(400, json={"error": "unsupported_grant_type"})


class FakeAdmin:
    """What the CLI asks of IdentityAdmin, over the fake realm's members; records every call."""

    def __init__(self, keycloak: FakeKeycloak) -> None:
        self.keycloak = keycloak
        self.orgs: dict[str, set[str]] = {"heroes": set(), "acme": {"climate", "fusion"}, "globex": {"climate"}}
        self.calls: list[tuple[Any, ...]] = []

    def organisations(self) -> list[str]:
        self.calls.append(("organisations",))
        return sorted(self.orgs)

    def ensure_organisation(self, organisation: str, **options: Any) -> list[str]:
        self.calls.append(("ensure_organisation", organisation, options))
        if organisation in self.orgs:
            return []
        self.orgs[organisation] = set()
        return [f"created organisation {organisation}"]

    def delete_organisation(self, organisation: str) -> list[str]:
        self.calls.append(("delete_organisation", organisation))
        return [f"deleted organisation {organisation}"] if self.orgs.pop(organisation, None) is not None else []

    def projects(self, organisation: str) -> list[str]:
        self.calls.append(("projects", organisation))
        return sorted(self.orgs[organisation])

    def ensure_project(self, organisation: str, project: str) -> list[str]:
        self.calls.append(("ensure_project", organisation, project))
        self.orgs[organisation].add(project)
        return [f"created project {organisation}/{project}"]

    def delete_project(self, organisation: str, project: str) -> list[str]:
        self.calls.append(("delete_project", organisation, project))
        self.orgs[organisation].discard(project)
        return [f"deleted project {organisation}/{project}"]

    def users(self, organisation: str) -> list[UserRecord]:
        self.calls.append(("users", organisation))
        return [UserRecord(user=name, organisation=organisation, roles=frozenset(m.roles),
                           projects=frozenset(m.projects), enabled=m.enabled)
                for name, m in sorted(self.keycloak.members.items()) if m.organisation == organisation]

    def user(self, organisation: str, user: str) -> UserRecord | None:
        self.calls.append(("user", organisation, user))
        member = self.keycloak.members.get(user)
        if member is None or member.organisation != organisation:
            return None
        return UserRecord(user=user, organisation=organisation, roles=frozenset(member.roles),
                          projects=frozenset(member.projects), enabled=member.enabled)

    def identity(self, organisation: str, user: str) -> Identity | None:
        self.calls.append(("identity", organisation, user))
        member = self.keycloak.members.get(user)
        if member is None or member.organisation != organisation:
            return None
        return Identity(subject=f"id-{user}", user=user, organisation=organisation,
                        roles=frozenset(member.roles), projects=frozenset(member.projects))

    def ensure_user(self, organisation: str, user: str, **options: Any) -> list[str]:
        self.calls.append(("ensure_user", organisation, user, options))
        password = options.get("password")
        member = self.keycloak.members.setdefault(user, Member(
            organisation, password.get_secret_value() if password else "", set()))
        member.roles = {Role(role) for role in options.get("roles", ())}
        member.projects = set(options.get("projects", ()))
        return [f"updated user {user}"]

    def delete_user(self, organisation: str, user: str) -> list[str]:
        self.calls.append(("delete_user", organisation, user))
        return [f"deleted user {user} of {organisation}"] if self.keycloak.members.pop(user, None) else []

    def changed(self) -> list[str]:
        """The calls that would change Keycloak."""
        return [call[0] for call in self.calls if call[0].startswith(("ensure", "delete"))]


class FakeRealm:
    """A KeycloakRealm block as the CLI uses it."""

    def __init__(self, keycloak: FakeKeycloak, admin: FakeAdmin, transport: httpx.BaseTransport) -> None:
        self._admin, self._transport = admin, transport
        self.loaded_as: list[str] = []

    def settings(self) -> KeycloakSettings:
        return SETTINGS

    def admin(self) -> FakeAdmin:
        return self._admin

    def verifier(self) -> TokenVerifier:
        return SETTINGS.verifier(transport=self._transport)


class FakeArchive:
    """The archive as the CLI uses it: it records the buckets and areas it is asked to make."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def ensure_bucket(self, organisation: str) -> str:
        self.made.append(f"bucket {organisation}")
        return f"heroes-{organisation}"

    def ensure_area(self, area: Area) -> None:
        self.made.append(f"{area.organisation}:{area.prefix}")


@dataclass
class World:
    keycloak: FakeKeycloak
    admin: FakeAdmin
    realm: FakeRealm
    credentials: Path
    runner: CliRunner
    archive: FakeArchive


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    keycloak = FakeKeycloak()
    transport = httpx.MockTransport(keycloak.handle)
    realm = FakeRealm(keycloak, FakeAdmin(keycloak), transport)

    def load_realm(name: str) -> FakeRealm:
        realm.loaded_as.append(name)
        return realm

    monkeypatch.setattr(_oidc, "transport", transport)
    monkeypatch.setattr(_session, "load_realm", load_realm)
    archive = FakeArchive()
    monkeypatch.setattr(_session, "load_archive", lambda name="heroes-archive": archive)
    for name in (_session.CREDENTIALS_ENV, _session.REALM_BLOCK_ENV, "HEROES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield World(keycloak, realm.admin(), realm, tmp_path / "config" / "heroes" / "credentials.json", CliRunner(),
                archive)
