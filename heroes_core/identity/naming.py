"""The names provisioning gives Keycloak, checked before anything reaches it.

Every name below ends up in a token claim that :meth:`Identity.from_claims
<heroes_core.identity.Identity.from_claims>` reads back, or in a group path it parses, so
each check here is the one that reading side applies, made stricter where Keycloak would
otherwise change the name on the way (it lower-cases user names).

organisation
    ``models.ORGANISATION_PATTERN``, not a reserved name (``heroes`` is the HEROES
    organisation's own and allowed). It is the Keycloak Organization's alias, the group
    ``/<organisation>`` and the ``heroes_org`` claim of its service accounts.
user
    ``models.NAME_PATTERN`` in lower case (Keycloak stores user names lower-cased: a name
    with capitals would come back different in ``preferred_username``), not a reserved user
    name, and not starting with ``service-account-`` (Keycloak's prefix for the users behind
    service accounts, which the identity reads as "a service account").
project
    lower case letters, digits and ``-``/``_``, 1-63 characters, starting with a letter or
    digit: a group ``/<organisation>/projects/<project>`` whose last part the identity
    accepts (``NAME_PATTERN``) and which names directories and budgets.
service account
    like a project name, at most 31 characters. Its Keycloak client is
    ``<organisation>.<name>``: the dot cannot occur in an organisation name, so two
    organisations' clients never collide, and the user behind it,
    ``service-account-<organisation>.<name>``, stays within ``NAME_PATTERN``'s 64 characters.
realm
    lower case letters, digits and ``-``, not ``master`` (Keycloak's administration realm).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from heroes_core.errors import SpecError
from heroes_core.identity._actions import HEROES_ORGANISATION, PLATFORM_ROLES, Role
from heroes_core.identity._identity import check_organisation
from heroes_core.models import NAME_PATTERN, ORGANISATION_PATTERN, RESERVED_USER_NAMES

PROJECT_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SERVICE_ACCOUNT_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,30}$"
REALM_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
SERVICE_ACCOUNT_PREFIX: Final = "service-account-"
_ROLE_NAMES: Final = frozenset(role.value for role in Role)


def _matches(value: object, pattern: str) -> bool:
    """``value`` is a string all of which ``pattern`` matches (names arrive from forms and claims)."""
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def organisation_name(value: str) -> str:
    """``value`` if it may name an organisation, else :class:`SpecError`."""
    if not _matches(value, ORGANISATION_PATTERN):
        raise SpecError(f"organisation name {value!r} is not valid",
                        fix="use 3-40 lower case letters, digits and '-', starting and ending with a "
                            "letter or digit")
    try:
        return check_organisation(value)
    except ValueError as error:
        raise SpecError(str(error), fix="choose another organisation name") from None


def user_name(value: str) -> str:
    """``value`` if it may name a (human) user, else :class:`SpecError`."""
    if not _matches(value, NAME_PATTERN) or value != value.lower():
        raise SpecError(f"user name {value!r} is not valid",
                        fix="use 1-64 lower case letters, digits, '.', '_' and '-', starting with a "
                            "letter or digit")
    if value in RESERVED_USER_NAMES:
        raise SpecError(f"user name {value!r} is reserved for HEROES", fix="choose another user name")
    if value.startswith(SERVICE_ACCOUNT_PREFIX):
        raise SpecError(f"user name {value!r} starts with '{SERVICE_ACCOUNT_PREFIX}', which marks "
                        "service accounts", fix="choose another user name, or create a service account")
    return value


def project_name(value: str) -> str:
    """``value`` if it may name a project, else :class:`SpecError`."""
    if not _matches(value, PROJECT_PATTERN):
        raise SpecError(f"project name {value!r} is not valid",
                        fix="use 1-63 lower case letters, digits, '-' and '_', starting with a letter "
                            "or digit")
    return value


def service_account_name(value: str) -> str:
    """``value`` if it may name a service account within an organisation, else :class:`SpecError`."""
    if not _matches(value, SERVICE_ACCOUNT_PATTERN):
        raise SpecError(f"service account name {value!r} is not valid",
                        fix="use 1-31 lower case letters, digits, '-' and '_', starting with a letter "
                            "or digit")
    return value


def realm_name(value: str) -> str:
    """``value`` if HEROES may provision a realm of that name, else :class:`SpecError`."""
    if not _matches(value, REALM_PATTERN) or value == "master":
        raise SpecError(f"realm name {value!r} is not valid for HEROES",
                        fix="use lower case letters, digits and '-' (not 'master', Keycloak's "
                            "administration realm)")
    return value


def service_client_id(organisation: str, name: str) -> str:
    """The Keycloak client id of ``organisation``'s service account ``name``."""
    client_id = f"{organisation_name(organisation)}.{service_account_name(name)}"
    if not re.fullmatch(NAME_PATTERN, SERVICE_ACCOUNT_PREFIX + client_id):
        raise SpecError(f"service account {name!r} of {organisation!r} makes a user name longer than "
                        "64 characters", fix="choose a shorter service account name")
    return client_id


def role_names(organisation: str, roles: Iterable[Role | str]) -> frozenset[Role]:
    """The roles named, each a :class:`Role`; platform roles only in the HEROES organisation."""
    chosen: set[Role] = set()
    for role in roles:
        if role not in _ROLE_NAMES:
            raise SpecError(f"{role!r} is not a HEROES role",
                            fix=f"use one of {', '.join(sorted(_ROLE_NAMES))}")
        chosen.add(Role(role))
    platform = sorted(chosen & PLATFORM_ROLES)
    if platform and organisation != HEROES_ORGANISATION:
        raise SpecError(f"role(s) {', '.join(platform)} belong to the HEROES organisation "
                        f"'{HEROES_ORGANISATION}' only, not to '{organisation}'",
                        fix="give these roles to members of the HEROES organisation only")
    return frozenset(chosen)
