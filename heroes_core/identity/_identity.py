"""Who is calling: an identity built only from a verified token's claims.

Claim layout (Keycloak 26, one realm, organisations as Keycloak Organizations)
-----------------------------------------------------------------------------
``sub``
    the subject, Keycloak's user id (stable across renames).
``preferred_username``
    the user name; checked with the core's user-name rules (``models.NAME_PATTERN``, not a
    reserved name), because it names the user's directories on centres and in the archive.
``organization``
    what Keycloak's Organizations feature emits (the ``organization`` client scope): a list
    of organisation aliases, ``["acme"]``, or a map keyed by alias when the mapper adds
    attributes or ids, ``{"acme": {...}}``. Exactly one organisation is required: whose
    budget and data a request touches must never be ambiguous.
``heroes_org``
    used only when ``organization`` is absent: a hardcoded-claim mapper on a service
    account's client (internal modules use client credentials and are no organisation's
    members). If both are present they must agree.
``realm_access.roles``
    realm roles; those whose name is a :class:`Role` value count, the rest (Keycloak's
    ``offline_access``, ``default-roles-*``...) are ignored. Platform roles are accepted
    only for members of the HEROES organisation.
``groups``
    group membership with full paths (Keycloak's "Group Membership" mapper, full path on).
    A project is a group ``/<organisation>/projects/<project>``; groups elsewhere, including
    another organisation's subtree, are not projects.
Service accounts are recognised by Keycloak's ``service-account-<client>`` user names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heroes_core.errors import TokenError, TokenFailure
from heroes_core.identity._actions import HEROES_ORGANISATION, PLATFORM_ROLES, Role
from heroes_core.models import (
    NAME_PATTERN,
    RESERVED_ORGANISATION_NAMES,
    RESERVED_USER_NAMES,
    Name,
    Organisation,
)

_ROLE_NAMES = frozenset(role.value for role in Role)


class ClaimLayout(BaseModel):
    """Where each part of an identity sits in the token (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    subject_claim: str = "sub"
    user_claim: str = "preferred_username"
    organisation_claim: str = "organization"
    service_organisation_claim: str = "heroes_org"
    roles_claim: str = Field(default="realm_access.roles", description="A dotted path into the claims.")
    groups_claim: str = "groups"
    project_group_prefix: str = Field(
        default="/{organisation}/projects/",
        description="A project group's path before the project name; {organisation} is the caller's.")
    service_account_prefix: str = "service-account-"


def check_organisation(value: str) -> str:
    """Refuse the names HEROES keeps for itself, except the HEROES organisation's own."""
    if value in RESERVED_ORGANISATION_NAMES and value != HEROES_ORGANISATION:
        raise ValueError(f"organisation name {value!r} is reserved for HEROES")
    return value


class Identity(BaseModel):
    """A verified caller: subject, user, organisation, projects, roles.

    Build it with :meth:`from_claims` from a token :class:`~heroes_core.identity.TokenVerifier`
    has verified; nothing a caller types decides any of its fields.
    """

    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, max_length=255)
    user: Name
    organisation: Organisation
    projects: frozenset[Name] = frozenset()
    roles: frozenset[Role] = frozenset()
    service_account: bool = False

    @field_validator("organisation")
    @classmethod
    def _organisation_not_reserved(cls, value: str) -> str:
        return check_organisation(value)

    @field_validator("user")
    @classmethod
    def _user_not_reserved(cls, value: str) -> str:
        if value.lower() in RESERVED_USER_NAMES:
            raise ValueError(f"user name {value!r} is reserved for HEROES")
        return value

    @model_validator(mode="after")
    def _platform_roles_only_in_heroes(self) -> Identity:
        platform = sorted(self.roles & PLATFORM_ROLES)
        if platform and self.organisation != HEROES_ORGANISATION:
            raise ValueError(f"role(s) {', '.join(platform)} belong to the HEROES organisation "
                             f"'{HEROES_ORGANISATION}' only, not to '{self.organisation}'")
        return self

    @property
    def platform(self) -> bool:
        """Whether the caller belongs to the HEROES organisation, the platform's operator."""
        return self.organisation == HEROES_ORGANISATION

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], layout: ClaimLayout | None = None) -> Identity:
        """The identity a verified token's claims describe, or :class:`TokenError` (invalid-claims)."""
        layout = layout or ClaimLayout()
        try:
            user = _text(claims, layout.user_claim)
            organisation = _organisation(claims, layout)
            roles = frozenset(Role(name) for name in _strings(claims, layout.roles_claim)
                              if name in _ROLE_NAMES)
            prefix = layout.project_group_prefix.format(organisation=organisation)
            projects = frozenset(group.removeprefix(prefix) for group in _strings(claims, layout.groups_claim)
                                 if group.startswith(prefix)
                                 and re.fullmatch(NAME_PATTERN, group.removeprefix(prefix)))
            return cls(subject=_text(claims, layout.subject_claim), user=user, organisation=organisation,
                       projects=projects, roles=roles,
                       service_account=user.startswith(layout.service_account_prefix))
        except (ValueError, ValidationError) as error:
            detail = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            raise TokenError(f"the token does not describe a HEROES identity: {detail}",
                             reason=TokenFailure.INVALID_CLAIMS,
                             fix="ask your organisation's administrator to check your account in "
                                 "Keycloak (user name, organisation, roles)") from None


def _lookup(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(claims: Mapping[str, Any], path: str) -> str:
    value = _lookup(claims, path)
    if not isinstance(value, str) or not value:
        raise ValueError(f"claim '{path}' is missing or not a string")
    return value


def _strings(claims: Mapping[str, Any], path: str) -> list[str]:
    value = _lookup(claims, path)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"claim '{path}' is not a list of strings")
    return value


def _organisation(claims: Mapping[str, Any], layout: ClaimLayout) -> str:
    emitted = _lookup(claims, layout.organisation_claim)
    names: list[str]
    if emitted is None:
        names = []
    elif isinstance(emitted, str):
        names = [emitted]
    elif isinstance(emitted, list | Mapping) and all(isinstance(name, str) for name in emitted):
        names = list(emitted)  # a map's keys are the aliases
    else:
        raise ValueError(f"claim '{layout.organisation_claim}' is neither a list nor a map of names")
    fallback = _lookup(claims, layout.service_organisation_claim)
    if fallback is not None:
        if not isinstance(fallback, str):
            raise ValueError(f"claim '{layout.service_organisation_claim}' is not a string")
        if names and names != [fallback]:
            raise ValueError(f"claims '{layout.organisation_claim}' and "
                             f"'{layout.service_organisation_claim}' disagree")
        names = [fallback]
    if len(names) != 1:
        raise ValueError(f"the account must belong to exactly one organisation, not {len(names)}")
    return names[0]
