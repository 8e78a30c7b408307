"""Two organisations in a fresh Keycloak realm, with users of several roles and their tokens.

For the gateway's tests: each module gets its own uniquely named realm (deleted afterwards),
so nothing depends on what an earlier run left in Keycloak.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from heroes_core.identity import IdentityAdmin, KeycloakSettings, Role, oidc

DEADLINE_S = 240
FINAL_STATES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

# user -> (organisation key, roles, projects)
PEOPLE: dict[str, tuple[str, tuple[Role, ...], tuple[str, ...]]] = {
    "alice": ("acme", (Role.ENGINEER,), ("p1",)),
    "carol": ("acme", (Role.WORKFLOW_ADMIN,), ()),
    "bill": ("acme", (Role.BILLING_ADMIN,), ()),
    "pam": ("acme", (Role.PROJECT_ADMIN,), ("p1",)),
    "paco": ("acme", (Role.APPLICATION_PROVIDER, Role.ENGINEER), ("p1",)),
    "bob": ("umbrella", (Role.ENGINEER,), ("p1",)),
    "dave": ("heroes", (Role.SOLUTION_ADMIN, Role.INFRASTRUCTURE_ADMIN), ()),
}


@dataclass
class Tenants:
    """The realm's settings, the organisations' real names, and a way to get each user's token."""

    settings: KeycloakSettings
    organisations: dict[str, str]
    _tokens: dict[str, str] = field(default_factory=dict)

    def password(self, user: str) -> str:
        return f"{user}-pw-{self.settings.realm[-6:]}"

    def token(self, user: str) -> str:
        """A fresh access token for ``user`` (password grant), cached for the module."""
        if user not in self._tokens:
            self._tokens[user] = oidc.password_grant(self.settings, user, self.password(user)).access_token
        return self._tokens[user]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def finished(self, gateway: Any, user: str, run_id: str) -> dict[str, Any]:
        """The run as ``user`` reads it through the gateway (a TestClient or httpx client), once
        it has reached a final state."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            run: dict[str, Any] = gateway.get(f"/v1/runs/{run_id}", headers=self.headers(user)).json()
            if run["state"] in FINAL_STATES:
                return run
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} did not finish in {DEADLINE_S} s")


@contextmanager
def tenants(keycloak: dict[str, Any], prefix: str) -> Iterator[Tenants]:
    """A realm ``<prefix>-<random>`` with :data:`PEOPLE` in two customer organisations and HEROES."""
    suffix = uuid.uuid4().hex[:6]
    settings = KeycloakSettings(server_url=keycloak["url"], realm=f"{prefix}-{suffix}",
                                admin_realm=keycloak["admin_realm"], admin_user=keycloak["admin_user"],
                                admin_password=SecretStr(keycloak["admin_password"]))
    admin = IdentityAdmin(settings)
    made = Tenants(settings, {"acme": f"acme{suffix}", "umbrella": f"umbrella{suffix}", "heroes": "heroes"})
    try:
        admin.ensure_realm(direct_access_grants=True)
        for organisation in made.organisations.values():
            admin.ensure_organisation(organisation)
        for user, (key, roles, projects) in PEOPLE.items():
            organisation = made.organisations[key]
            for project in projects:
                admin.ensure_project(organisation, project)
            admin.ensure_user(organisation, user, roles=roles, projects=projects,
                              email=f"{user}@{organisation}.example", first_name=user.title(), last_name="Test",
                              password=SecretStr(made.password(user)))
        yield made
    finally:
        admin.delete_realm()
