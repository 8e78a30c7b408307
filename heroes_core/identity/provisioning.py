"""Organisations, projects, users, roles and service accounts, kept in Keycloak.

One realm (``heroes`` by default) holds every organisation (docs/decisions/0004): each is a
Keycloak Organization (alias = the organisation's name) and a group ``/<organisation>``
with a subgroup ``projects``; a project is a group ``/<organisation>/projects/<project>``;
a role is a realm role named like a :class:`~heroes_core.identity.Role`; a service account
is a confidential client ``<organisation>.<name>`` whose tokens carry the organisation in a
hardcoded ``heroes_org`` claim. That is exactly the claim layout :class:`~heroes_core.
identity.ClaimLayout` reads back, because :meth:`IdentityAdmin.ensure_realm` gives the
public client the ``organization`` scope, a full-path group mapper and an audience mapper.

Every ``ensure_*`` is idempotent: it reads what Keycloak has, changes only what differs and
returns what it changed (nothing on a second run). Every ``delete_*`` of something absent
does nothing. Names are checked (:mod:`heroes_core.identity.naming`) before any call, and
every operation on users, projects and service accounts names its organisation and checks
that what it touches belongs to it: one organisation's administration never reaches another's.

Passwords are set when a user is created (or by :meth:`IdentityAdmin.set_password`), never
on a later ``ensure_user``, so re-running a provisioning script does not reset them.
Users federated from LDAP or SAML are configured in Keycloak (per organisation, with the
Organization's identity providers), not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakConnectionError,
    KeycloakError,
    KeycloakGetError,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from heroes_core.errors import HeroesError
from heroes_core.identity._actions import Action, Role
from heroes_core.identity._authorize import Decision, Resource, ResourceKind, authorize, require
from heroes_core.identity._identity import Identity
from heroes_core.identity.naming import (
    SERVICE_ACCOUNT_PREFIX,
    organisation_name,
    project_name,
    realm_name,
    role_names,
    service_account_name,
    service_client_id,
    user_name,
)
from heroes_core.identity.tokens import TokenVerifier

ORGANISATION_ATTRIBUTE: Final = "heroes.organisation"  # on a service account's client
ROLE_DESCRIPTIONS: Final = {role.value: f"HEROES role {role.value} (D3.1 Table 1)" for role in Role}
_ROLE_NAMES: Final = frozenset(ROLE_DESCRIPTIONS)


class IdentityProviderError(HeroesError):
    """Keycloak could not be reached, refused the admin, or refused a change."""


class ProvisioningError(HeroesError):
    """A change that would cross organisations or needs something missing first."""


class KeycloakSettings(BaseModel):
    """Where HEROES' Keycloak realm is and how its administrator logs in."""

    model_config = ConfigDict(frozen=True)

    server_url: str = Field(description="Keycloak's base URL, e.g. https://id.example.org "
                                        "(without /realms/...).")
    realm: str = Field(default="heroes", description="The realm holding every HEROES organisation.")
    admin_realm: str = Field(default="master", description="The realm the administrator logs in to.")
    admin_user: str | None = Field(default="admin", description="The administrator's user name "
                                   "(leave empty when logging in with client credentials).")
    admin_password: SecretStr | None = Field(default=None, description="The administrator's password.")
    admin_client_id: str = Field(default="admin-cli", description="The client the administrator logs "
                                 "in through; a confidential client with a service account when "
                                 "admin_client_secret is given.")
    admin_client_secret: SecretStr | None = Field(default=None, description="The secret of "
                                                  "admin_client_id, for logging in with client credentials.")
    audience: str = Field(default="heroes-gateway", description="The audience HEROES' access tokens "
                          "are issued for (what the gateway checks).")
    cli_client_id: str = Field(default="heroes-cli", description="The public client the CLI and browsers "
                               "log in through.")
    verify_tls: bool = Field(default=True, description="Check Keycloak's TLS certificate.")
    timeout: int = Field(default=30, ge=1, le=600, description="Seconds to wait for Keycloak's answers.")

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
            raise ValueError(f"server_url {value!r} must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("realm")
    @classmethod
    def _realm(cls, value: str) -> str:
        try:
            return realm_name(value)
        except HeroesError as error:
            raise ValueError(error.detail) from None

    @model_validator(mode="after")
    def _one_login(self) -> KeycloakSettings:
        if self.admin_password is None and self.admin_client_secret is None:
            raise ValueError("give the administrator's password or a client secret")
        if self.admin_password is not None and not self.admin_user:
            raise ValueError("an admin password needs an admin user")
        return self

    @property
    def issuer(self) -> str:
        return f"{self.server_url}/realms/{self.realm}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def verifier(self, **options: Any) -> TokenVerifier:
        """A verifier of this realm's access tokens for :attr:`audience` (options as TokenVerifier's)."""
        return TokenVerifier(self.issuer, self.audience, self.jwks_url, **options)


class UserRecord(BaseModel):
    """A user as provisioning sees it: HEROES roles and projects within its organisation."""

    model_config = ConfigDict(frozen=True)

    user: str
    organisation: str
    roles: frozenset[Role]
    projects: frozenset[str]
    enabled: bool = True


class ServiceAccount(BaseModel):
    """A service account's client credentials."""

    model_config = ConfigDict(frozen=True)

    organisation: str
    name: str
    client_id: str
    client_secret: SecretStr
    roles: frozenset[Role]


def _differs(existing: Any, desired: Any) -> bool:
    """Whether ``existing`` lacks anything of ``desired`` (maps key by key, lists as sets, the rest equal)."""
    if isinstance(desired, Mapping):
        return not isinstance(existing, Mapping) or any(
            _differs(existing.get(key), value) for key, value in desired.items())
    if isinstance(desired, list) and isinstance(existing, list):  # Keycloak keeps no order in its lists
        return sorted(map(str, existing)) != sorted(map(str, desired))
    return bool(existing != desired)


def _mapper(name: str, kind: str, config: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "protocol": "openid-connect", "protocolMapper": kind,
            "config": {"access.token.claim": "true", "introspection.token.claim": "true",
                       "id.token.claim": "false", **config}}


def audience_mapper(audience: str) -> dict[str, Any]:
    """Puts the gateway's audience in ``aud`` (what ``TokenVerifier`` checks)."""
    return _mapper("heroes-audience", "oidc-audience-mapper", {"included.custom.audience": audience})


def groups_mapper() -> dict[str, Any]:
    """Group membership with full paths in ``groups``, where projects are read from."""
    return _mapper("heroes-groups", "oidc-group-membership-mapper",
                   {"claim.name": "groups", "full.path": "true", "userinfo.token.claim": "true"})


def organisation_claim_mapper(organisation: str) -> dict[str, Any]:
    """``heroes_org`` fixed to the service account's organisation."""
    return _mapper("heroes-organisation", "oidc-hardcoded-claim-mapper",
                   {"claim.name": "heroes_org", "claim.value": organisation, "jsonType.label": "String"})


def require_administration(identity: Identity, organisation: str) -> Decision:
    """Whether ``identity`` may administer ``organisation``'s users, projects and roles.

    Table 1 gives "manage users/groups and roles" within the caller's own organisation;
    section 3.3 gives the HEROES organisation "management of any Organization", which the
    table's addition ``manage-organisations`` carries. Either one suffices. A refusal is the
    one for "manage users/groups and roles", whose words name only the caller's own
    organisation (:func:`require`), so it says nothing about ``organisation``.
    """
    membership = Resource(kind=ResourceKind.MEMBERSHIP, organisation=organisation)
    decision = authorize(identity, Action.MANAGE_USERS, membership)
    if decision.allowed:
        return decision
    platform = authorize(identity, Action.MANAGE_ORGANISATIONS,
                         Resource(kind=ResourceKind.ORGANISATION, organisation=organisation))
    if platform.allowed:
        return platform
    return require(identity, Action.MANAGE_USERS, membership)


class IdentityAdmin:
    """Administers HEROES' realm through Keycloak's admin API (python-keycloak).

    ``admin`` swaps the python-keycloak client (tests); otherwise one is built from
    ``settings`` and logs in at its first call.
    """

    def __init__(self, settings: KeycloakSettings, *, admin: KeycloakAdmin | None = None) -> None:
        self.settings = settings
        self._admin = admin
        self._secrets = [secret.get_secret_value() for secret in
                         (settings.admin_password, settings.admin_client_secret) if secret is not None]

    # -- plumbing --------------------------------------------------------------------------

    @property
    def kc(self) -> KeycloakAdmin:
        if self._admin is None:
            s = self.settings
            secret = s.admin_client_secret.get_secret_value() if s.admin_client_secret else None
            connection = KeycloakOpenIDConnection(
                server_url=s.server_url, realm_name=s.realm, user_realm_name=s.admin_realm,
                username=s.admin_user if s.admin_password is not None else None,
                password=s.admin_password.get_secret_value() if s.admin_password is not None else None,
                client_id=s.admin_client_id, client_secret_key=secret,
                grant_type="password" if s.admin_password is not None else "client_credentials",
                verify=s.verify_tls, timeout=s.timeout)
            self._admin = KeycloakAdmin(connection=connection)
        return self._admin

    def _sync_roles(self, uid: str, wanted: frozenset[Role], who: str) -> list[str]:
        """Make the HEROES realm roles of Keycloak user ``uid`` exactly ``wanted`` (other roles
        stay); the change made, if any, for the caller's list of changes."""
        have = {role["name"] for role in self.kc.get_realm_roles_of_user(uid)} & _ROLE_NAMES
        add = sorted({role.value for role in wanted} - have)
        remove = sorted(have - {role.value for role in wanted})
        if not (add or remove):
            return []
        realm_roles = {role["name"]: role for role in self.kc.get_realm_roles()}
        if add:
            self.kc.assign_realm_roles(uid, [realm_roles[name] for name in add])
        if remove:
            self.kc.delete_realm_roles_of_user(uid, [realm_roles[name] for name in remove])
        return [f"roles of {who}: +{','.join(add) or '-'} -{','.join(remove) or '-'}"]

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    @contextmanager
    def _calls(self, what: str, *, secrets: Iterable[str] = ()) -> Iterator[None]:
        """Turn python-keycloak's errors while doing ``what`` into HEROES errors without secrets."""
        s = self.settings
        site = s.server_url
        try:
            yield
        except KeycloakConnectionError as error:
            raise IdentityProviderError(
                f"Keycloak at {site} could not be reached while trying to {what}: "
                f"{self._scrub(str(error))[:200]}", site=site,
                fix="check the server URL in the KeycloakRealm block and that Keycloak runs "
                    "(its health answers on the management port, /health/ready)") from None
        except KeycloakError as error:
            code = error.response_code
            body = error.error_message
            text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
            if isinstance(error, KeycloakAuthenticationError) or code == 401 or (
                    code == 400 and re.search(r'"error"\s*:\s*"(invalid_grant|invalid_client|'
                                              r'unauthorized_client)"', text)):
                # the administrator's login (token endpoint) was refused: say nothing of its answer
                who = (f"user '{s.admin_user}'" if s.admin_password is not None
                       else f"client '{s.admin_client_id}'")
                raise IdentityProviderError(
                    f"Keycloak at {site} refused the administrator ({who} of realm '{s.admin_realm}') "
                    f"while trying to {what}", site=site,
                    fix="check the admin user and password (or client id and secret) in the KeycloakRealm "
                        "block; the account needs the realm-admin role") from None
            for secret in secrets:
                text = text.replace(secret, "***")
            if code == 403:
                fix = "give the administrator the realm-admin role of realm " \
                      f"'{s.realm}' (or create-realm on '{s.admin_realm}' to create the realm)"
            else:
                fix = "see Keycloak's answer above and its server log"
            raise IdentityProviderError(
                f"Keycloak at {site} refused to {what} in realm '{s.realm}': HTTP {code} "
                f"{self._scrub(text)[:300]}", site=site, fix=fix) from None

    # -- the realm ---------------------------------------------------------------------------

    def realm_exists(self) -> bool:
        with self._calls("list realms"):
            return self.settings.realm in {r["realm"] for r in self.kc.get_realms()}

    def ensure_realm(self, *, display_name: str = "HEROES",
                     redirect_uris: Iterable[str] = ("http://127.0.0.1/*", "http://localhost/*"),
                     direct_access_grants: bool = False) -> list[str]:
        """The realm with Organizations on, HEROES' realm roles and the public login client.

        The public client (``cli_client_id``) allows the code flow with PKCE (browsers) and the
        device authorization grant (``heroes login`` on a terminal). It gets the
        ``organization`` scope as a default scope, so every access token carries the user's
        organisation, a full-path group mapper (projects) and an audience mapper for
        ``audience``. ``direct_access_grants`` lets scripts and tests log in with a password
        (the OAuth password grant).
        """
        s = self.settings
        changes: list[str] = []
        wanted = {"realm": s.realm, "enabled": True, "organizationsEnabled": True,
                  "displayName": display_name}
        with self._calls(f"create or update realm '{s.realm}'"):
            if not self.realm_exists():
                self.kc.create_realm(wanted)
                changes.append(f"created realm {s.realm}")
            else:
                current = self.kc.get_realm(s.realm)
                if _differs(current, wanted):
                    self.kc.update_realm(s.realm, wanted)
                    changes.append(f"updated realm {s.realm}")
        with self._calls("create the HEROES realm roles"):
            existing = {role["name"]: role for role in self.kc.get_realm_roles(brief_representation=False)}
            for name, description in ROLE_DESCRIPTIONS.items():
                if name not in existing:
                    self.kc.create_realm_role({"name": name, "description": description})
                    changes.append(f"created role {name}")
                elif existing[name].get("description") != description:
                    self.kc.update_realm_role(name, {"name": name, "description": description})
                    changes.append(f"updated role {name}")
        client = {"clientId": s.cli_client_id, "name": "HEROES (CLI and browser)", "enabled": True,
                  "protocol": "openid-connect", "publicClient": True, "standardFlowEnabled": True,
                  "implicitFlowEnabled": False, "serviceAccountsEnabled": False,
                  "directAccessGrantsEnabled": direct_access_grants,
                  "redirectUris": sorted(redirect_uris), "webOrigins": ["+"],
                  "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "+",
                                 # lets `heroes login` on a terminal sign in through a browser elsewhere
                                 "oauth2.device.authorization.grant.enabled": "true"}}
        changes += self._ensure_client(client, [audience_mapper(s.audience), groups_mapper()],
                                       default_scopes=["organization"])
        return changes

    def delete_realm(self) -> list[str]:
        """Delete the whole realm: every organisation, user and client in it."""
        if not self.realm_exists():
            return []
        with self._calls(f"delete realm '{self.settings.realm}'"):
            self.kc.delete_realm(self.settings.realm)
        return [f"deleted realm {self.settings.realm}"]

    def _ensure_client(self, client: dict[str, Any], mappers: list[dict[str, Any]], *,
                       default_scopes: Iterable[str] = ()) -> list[str]:
        client_id = client["clientId"]
        changes: list[str] = []
        with self._calls(f"create or update client '{client_id}'"):
            uuid = self.kc.get_client_id(client_id)
            if uuid is None:
                uuid = self.kc.create_client(client)
                changes.append(f"created client {client_id}")
            else:
                current = self.kc.get_client(uuid)
                if _differs(current, client):
                    self.kc.update_client(uuid, {**current, **client,
                                                 "attributes": {**current.get("attributes", {}),
                                                                **client.get("attributes", {})}})
                    changes.append(f"updated client {client_id}")
            assert uuid is not None
            present = {m["name"]: m for m in self.kc.get_mappers_from_client(uuid)}
            for mapper in mappers:
                old = present.get(mapper["name"])
                if old is None:
                    self.kc.add_mapper_to_client(uuid, mapper)
                    changes.append(f"added mapper {mapper['name']} to {client_id}")
                elif _differs(old, mapper):
                    self.kc.update_client_mapper(uuid, old["id"], {**old, **mapper})
                    changes.append(f"updated mapper {mapper['name']} of {client_id}")
            scopes = list(default_scopes)
            if scopes:
                defaults = {scope["name"] for scope in self.kc.get_client_default_client_scopes(uuid)}
                optional = {scope["name"]: scope["id"]
                            for scope in self.kc.get_client_optional_client_scopes(uuid)}
                for name in scopes:
                    if name in defaults:
                        continue
                    scope = self.kc.get_client_scope_by_name(name)
                    if scope is None:
                        raise IdentityProviderError(
                            f"realm '{self.settings.realm}' has no client scope '{name}'",
                            site=self.settings.server_url,
                            fix="use Keycloak 26 or later, whose Organizations feature brings it")
                    if name in optional:
                        self.kc.delete_client_optional_client_scope(uuid, optional[name])
                    self.kc.add_client_default_client_scope(
                        uuid, scope["id"], {"realm": self.settings.realm, "client": uuid,
                                            "clientScopeId": scope["id"]})
                    changes.append(f"made scope {name} a default of {client_id}")
        return changes

    # -- organisations and projects ------------------------------------------------------------

    def _organisation(self, organisation: str) -> dict[str, Any] | None:
        with self._calls(f"look up organisation '{organisation}'"):
            found = self.kc.get_organizations({"search": organisation, "exact": True})
        return next((org for org in found if org.get("alias") == organisation), None)

    def _organisation_id(self, organisation: str) -> str:
        org = self._organisation(organisation)
        if org is None:
            raise ProvisioningError(f"organisation '{organisation}' does not exist in realm "
                                    f"'{self.settings.realm}'", site=self.settings.server_url,
                                    fix=f"create it first (heroes org create {organisation})")
        return str(org["id"])

    def _group(self, path: str) -> dict[str, Any] | None:
        try:
            with_error = self.kc.get_group_by_path(path)
        except KeycloakGetError as error:
            if error.response_code == 404:
                return None
            raise
        return with_error

    def _ensure_group(self, parent: str | None, name: str) -> tuple[str, bool]:
        path = f"{parent or ''}/{name}"
        with self._calls(f"create group '{path}'"):
            group = self._group(path)
            if group is not None:
                return str(group["id"]), False
            parent_id = None
            if parent is not None:
                parent_group = self._group(parent)
                if parent_group is None:
                    raise ProvisioningError(f"group '{parent}' is missing in realm '{self.settings.realm}'",
                                            site=self.settings.server_url,
                                            fix="run the organisation's provisioning again")
                parent_id = parent_group["id"]
            group_id = self.kc.create_group({"name": name}, parent=parent_id)
            return str(group_id), True

    def organisations(self) -> list[str]:
        """The organisations of the realm (their aliases), sorted."""
        with self._calls("list organisations"):
            return sorted(org["alias"] for org in self.kc.get_organizations({"first": 0, "max": 10_000}))

    def ensure_organisation(self, organisation: str, *, display_name: str | None = None,
                            domains: Iterable[str] = ()) -> list[str]:
        """The organisation as a Keycloak Organization and the groups ``/<org>`` and ``/<org>/projects``."""
        organisation_name(organisation)
        changes: list[str] = []
        wanted: dict[str, Any] = {"name": display_name or organisation, "alias": organisation,
                                  "enabled": True}
        wanted_domains = sorted(set(domains))
        current = self._organisation(organisation)
        with self._calls(f"create or update organisation '{organisation}'"):
            if current is None:
                self.kc.create_organization({**wanted, "domains": [{"name": d} for d in wanted_domains]})
                changes.append(f"created organisation {organisation}")
            else:
                have_domains = sorted(d["name"] for d in current.get("domains", []))
                if _differs(current, wanted) or have_domains != wanted_domains:
                    self.kc.update_organization(current["id"], {
                        **current, **wanted, "domains": [{"name": d} for d in wanted_domains]})
                    changes.append(f"updated organisation {organisation}")
        for parent, name in ((None, organisation), (f"/{organisation}", "projects")):
            _, created = self._ensure_group(parent, name)
            if created:
                changes.append(f"created group {parent or ''}/{name}")
        return changes

    def delete_organisation(self, organisation: str) -> list[str]:
        """The organisation, its members, its service accounts and its groups, gone."""
        organisation_name(organisation)
        changes: list[str] = []
        org = self._organisation(organisation)
        if org is not None:
            for record in self.users(organisation):
                changes += self.delete_user(organisation, record.user)
        for name in self.service_accounts(organisation):
            changes += self.delete_service_account(organisation, name)
        with self._calls(f"delete organisation '{organisation}'"):
            group = self._group(f"/{organisation}")
            if group is not None:
                self.kc.delete_group(group["id"])
                changes.append(f"deleted group /{organisation}")
            if org is not None:
                self.kc.delete_organization(org["id"])
                changes.append(f"deleted organisation {organisation}")
        return changes

    def _projects_group(self, organisation: str) -> dict[str, Any]:
        self._organisation_id(organisation)
        with self._calls(f"look up the projects of '{organisation}'"):
            group = self._group(f"/{organisation}/projects")
        if group is None:
            raise ProvisioningError(f"organisation '{organisation}' has no group /{organisation}/projects",
                                    site=self.settings.server_url,
                                    fix=f"run heroes org create {organisation} again")
        return group

    def projects(self, organisation: str) -> list[str]:
        """The organisation's projects, sorted."""
        organisation_name(organisation)
        group = self._projects_group(organisation)
        with self._calls(f"list the projects of '{organisation}'"):
            return sorted(child["name"] for child in self.kc.get_group_children(group["id"]))

    def ensure_project(self, organisation: str, project: str) -> list[str]:
        """The group ``/<organisation>/projects/<project>``."""
        organisation_name(organisation)
        project_name(project)
        self._projects_group(organisation)
        _, created = self._ensure_group(f"/{organisation}/projects", project)
        return [f"created project {organisation}/{project}"] if created else []

    def delete_project(self, organisation: str, project: str) -> list[str]:
        """The project's group, gone (its members stay members of the organisation)."""
        organisation_name(organisation)
        project_name(project)
        with self._calls(f"delete project '{project}' of '{organisation}'"):
            group = self._group(f"/{organisation}/projects/{project}")
            if group is None:
                return []
            self.kc.delete_group(group["id"])
        return [f"deleted project {organisation}/{project}"]

    # -- users -------------------------------------------------------------------------------

    def _member_id(self, organisation: str, user: str) -> str | None:
        """The user's id if the user is a member of ``organisation``; None if no such user;
        :class:`ProvisioningError` if the user exists outside the organisation."""
        with self._calls(f"look up user '{user}'"):
            uid = self.kc.get_user_id(user)
            if uid is None:
                return None
            aliases = {org.get("alias") for org in self.kc.get_user_organizations(uid)}
        if organisation not in aliases:
            raise ProvisioningError(f"user '{user}' is not a member of organisation '{organisation}'",
                                    site=self.settings.server_url,
                                    fix="user names are unique across HEROES: choose another name, or "
                                        "ask the user's own organisation")
        return str(uid)

    def users(self, organisation: str) -> list[UserRecord]:
        """The organisation's (human) members with their HEROES roles and projects."""
        organisation_name(organisation)
        org_id = self._organisation_id(organisation)
        with self._calls(f"list the members of '{organisation}'"):
            members = self.kc.get_organization_members(org_id, {"first": 0, "max": 10_000})
            return sorted((self._record(organisation, member) for member in members),
                          key=lambda record: record.user)

    def user(self, organisation: str, user: str) -> UserRecord | None:
        """One member of the organisation, or None if there is no such user."""
        organisation_name(organisation)
        user_name(user)
        uid = self._member_id(organisation, user)
        if uid is None:
            return None
        with self._calls(f"read user '{user}'"):
            return self._record(organisation, self.kc.get_user(uid))

    def identity(self, organisation: str, user: str) -> Identity | None:
        """The identity a token of this member would carry (roles and projects as Keycloak has them).

        For explaining a decision about someone who is not logged in (``heroes can``); a
        request is still authorised only from a verified token.
        """
        organisation_name(organisation)
        user_name(user)
        uid = self._member_id(organisation, user)
        if uid is None:
            return None
        with self._calls(f"read user '{user}'"):
            record = self._record(organisation, self.kc.get_user(uid))
        return Identity(subject=uid, user=record.user, organisation=organisation, roles=record.roles,
                        projects=record.projects)

    def _record(self, organisation: str, member: Mapping[str, Any]) -> UserRecord:
        uid = member["id"]
        roles = {role["name"] for role in self.kc.get_realm_roles_of_user(uid)} & _ROLE_NAMES
        prefix = f"/{organisation}/projects/"
        projects = {group["path"].removeprefix(prefix) for group in self.kc.get_user_groups(uid)
                    if group.get("path", "").startswith(prefix)}
        return UserRecord(user=member["username"], organisation=organisation,
                          roles=frozenset(Role(role) for role in roles), projects=frozenset(projects),
                          enabled=bool(member.get("enabled", True)))

    def ensure_user(self, organisation: str, user: str, *, roles: Iterable[Role | str] = (),
                    projects: Iterable[str] = (), email: str | None = None,
                    first_name: str | None = None, last_name: str | None = None,
                    password: SecretStr | str | None = None, temporary_password: bool = False,
                    enabled: bool = True) -> list[str]:
        """The user, a member of ``organisation``, with exactly these HEROES roles and projects.

        A new user gets ``password`` (or, without one, the required action to set one at
        first login); an existing user keeps theirs. Roles and project groups are made to
        match: HEROES roles and projects of the organisation not listed are removed; other
        realm roles and groups are left alone.
        """
        organisation_name(organisation)
        user_name(user)
        wanted_roles = role_names(organisation, roles)
        wanted_projects = {project_name(project) for project in projects}
        org_id = self._organisation_id(organisation)
        project_groups = {project: self._group_id(f"/{organisation}/projects/{project}", organisation)
                          for project in sorted(wanted_projects)}
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        hide = [secret] if secret else []
        changes: list[str] = []
        profile = {key: value for key, value in
                   (("email", email), ("firstName", first_name), ("lastName", last_name))
                   if value is not None}
        uid = self._member_id(organisation, user)
        with self._calls(f"create or update user '{user}' of '{organisation}'", secrets=hide):
            if uid is None:
                payload: dict[str, Any] = {"username": user, "enabled": enabled, **profile}
                if email is not None:
                    payload["emailVerified"] = True
                if secret:
                    payload["credentials"] = [{"type": "password", "value": secret,
                                               "temporary": temporary_password}]
                else:
                    payload["requiredActions"] = ["UPDATE_PASSWORD"]
                uid = str(self.kc.create_user(payload))
                self.kc.organization_user_add(uid, org_id)
                changes.append(f"created user {user} in {organisation}")
            else:
                current = self.kc.get_user(uid)
                wanted = {**profile, "enabled": enabled}
                if _differs(current, wanted):
                    self.kc.update_user(uid, wanted)
                    changes.append(f"updated user {user}")
            changes.extend(self._sync_roles(uid, wanted_roles, user))
            prefix = f"/{organisation}/projects/"
            have = {group["path"].removeprefix(prefix): group["id"] for group in self.kc.get_user_groups(uid)
                    if group.get("path", "").startswith(prefix)}
            for project in sorted(wanted_projects - set(have)):
                self.kc.group_user_add(uid, project_groups[project])
                changes.append(f"added {user} to project {project}")
            for project in sorted(set(have) - wanted_projects):
                self.kc.group_user_remove(uid, have[project])
                changes.append(f"removed {user} from project {project}")
        return changes

    def _group_id(self, path: str, organisation: str) -> str:
        with self._calls(f"look up group '{path}'"):
            group = self._group(path)
        if group is None:
            raise ProvisioningError(f"project '{path.rsplit('/', 1)[-1]}' does not exist in organisation "
                                    f"'{organisation}'", site=self.settings.server_url,
                                    fix="create the project first (heroes project create)")
        return str(group["id"])

    def set_password(self, organisation: str, user: str, password: SecretStr | str, *,
                     temporary: bool = False) -> list[str]:
        """Set a member's password (``temporary``: to be changed at next login)."""
        organisation_name(organisation)
        user_name(user)
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        uid = self._member_id(organisation, user)
        if uid is None:
            raise ProvisioningError(f"organisation '{organisation}' has no user '{user}'",
                                    site=self.settings.server_url, fix="create the user first")
        with self._calls(f"set the password of '{user}'", secrets=[secret]):
            self.kc.set_user_password(uid, secret, temporary=temporary)
        return [f"set the password of {user}"]

    def delete_user(self, organisation: str, user: str) -> list[str]:
        """Delete a member of ``organisation`` (nothing if no such user; refused for another's)."""
        organisation_name(organisation)
        user_name(user)
        uid = self._member_id(organisation, user)
        if uid is None:
            return []
        with self._calls(f"delete user '{user}' of '{organisation}'"):
            self.kc.delete_user(uid)
        return [f"deleted user {user} of {organisation}"]

    # -- service accounts ----------------------------------------------------------------------

    def _service_client(self, organisation: str, name: str) -> dict[str, Any] | None:
        client_id = service_client_id(organisation, name)
        with self._calls(f"look up client '{client_id}'"):
            uuid = self.kc.get_client_id(client_id)
            if uuid is None:
                return None
            client: dict[str, Any] = self.kc.get_client(uuid)
        if client.get("attributes", {}).get(ORGANISATION_ATTRIBUTE) != organisation:
            raise ProvisioningError(f"client '{client_id}' is not a service account of organisation "
                                    f"'{organisation}'", site=self.settings.server_url,
                                    fix="choose another service account name")
        return client

    def service_accounts(self, organisation: str) -> list[str]:
        """The names of the organisation's service accounts, sorted."""
        organisation_name(organisation)
        prefix = f"{organisation}."
        with self._calls(f"list the service accounts of '{organisation}'"):
            return sorted(client["clientId"].removeprefix(prefix) for client in self.kc.get_clients()
                          if client.get("attributes", {}).get(ORGANISATION_ATTRIBUTE) == organisation
                          and client["clientId"].startswith(prefix))

    def ensure_service_account(self, organisation: str, name: str, *,
                               roles: Iterable[Role | str] = ()) -> tuple[ServiceAccount, list[str]]:
        """A confidential client with a service account of ``organisation`` and exactly ``roles``.

        Its tokens (client-credentials grant) carry ``heroes_org`` = the organisation, the
        gateway's audience and the roles; the organisation must exist.
        """
        organisation_name(organisation)
        service_account_name(name)
        client_id = service_client_id(organisation, name)
        wanted_roles = role_names(organisation, roles)
        self._organisation_id(organisation)
        self._service_client(organisation, name)  # refuses a same-named client of someone else
        client = {"clientId": client_id, "name": f"HEROES service account {name} of {organisation}",
                  "enabled": True, "protocol": "openid-connect", "publicClient": False,
                  "clientAuthenticatorType": "client-secret", "serviceAccountsEnabled": True,
                  "standardFlowEnabled": False, "implicitFlowEnabled": False,
                  "directAccessGrantsEnabled": False,
                  "attributes": {ORGANISATION_ATTRIBUTE: organisation}}
        changes = self._ensure_client(client, [audience_mapper(self.settings.audience),
                                               organisation_claim_mapper(organisation)])
        with self._calls(f"set the roles of service account '{client_id}'"):
            uuid = self.kc.get_client_id(client_id)
            assert uuid is not None
            uid = self.kc.get_client_service_account_user(uuid)["id"]
            changes.extend(self._sync_roles(uid, wanted_roles, client_id))
            secret = str(self.kc.get_client_secrets(uuid)["value"])
        account = ServiceAccount(organisation=organisation, name=name, client_id=client_id,
                                 client_secret=SecretStr(secret), roles=wanted_roles)
        return account, changes

    def delete_service_account(self, organisation: str, name: str) -> list[str]:
        """The organisation's service account, gone (nothing if absent)."""
        client = self._service_client(organisation, name)
        if client is None:
            return []
        with self._calls(f"delete client '{client['clientId']}'"):
            self.kc.delete_client(client["id"])
        return [f"deleted service account {client['clientId']}"]


__all__ = [
    "ORGANISATION_ATTRIBUTE",
    "SERVICE_ACCOUNT_PREFIX",
    "IdentityAdmin",
    "IdentityProviderError",
    "KeycloakSettings",
    "ProvisioningError",
    "ServiceAccount",
    "UserRecord",
    "audience_mapper",
    "groups_mapper",
    "organisation_claim_mapper",
    "require_administration",
]
