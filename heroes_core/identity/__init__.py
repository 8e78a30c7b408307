"""Identity and access (module 1): who calls, and what the actions table lets them do.

``TokenVerifier`` checks an access token offline against the identity provider's keys and
gives the :class:`Identity` its claims describe; ``authorize(identity, action, resource)``
applies the design's table of actions by roles (``TABLE_1`` and its few ``ADDITIONS``) with
organisations kept apart; ``visible`` filters a listing the same way. ``IdentityAdmin``
keeps organisations, projects, users, roles and service accounts in Keycloak
(:mod:`heroes_core.identity.provisioning`). ``issue_grant``/``verify_grant`` bind a verified
identity to one flow run and its parameters (:mod:`heroes_core.identity.grants`). No Prefect
here: the gateway, the CLI and the flows build on it.
"""

from heroes_core.errors import (
    GrantError,
    GrantFailure,
    KeysUnavailableError,
    PermissionDeniedError,
    TokenError,
    TokenFailure,
)
from heroes_core.identity._actions import (
    ADDITION_ACTIONS,
    ADDITION_REFERENCES,
    ADDITIONS,
    HEROES_ORGANISATION,
    PERMISSIONS,
    PLATFORM_ROLES,
    TABLE_1,
    TABLE_1_ACTIONS,
    TABLE_1_REACH,
    Action,
    Reach,
    Role,
)
from heroes_core.identity._authorize import (
    APPLIES_TO,
    LISTED_BY,
    Decision,
    Resource,
    ResourceKind,
    authorize,
    require,
    visible,
    widest_reach,
)
from heroes_core.identity._identity import ClaimLayout, Identity
from heroes_core.identity.grants import Grant, issue_grant, read_grant, verify_grant
from heroes_core.identity.provisioning import (
    IdentityAdmin,
    IdentityProviderError,
    KeycloakSettings,
    ProvisioningError,
    ServiceAccount,
    UserRecord,
)
from heroes_core.identity.tokens import TokenVerifier

__all__ = [
    "ADDITIONS",
    "ADDITION_ACTIONS",
    "ADDITION_REFERENCES",
    "APPLIES_TO",
    "HEROES_ORGANISATION",
    "LISTED_BY",
    "PERMISSIONS",
    "PLATFORM_ROLES",
    "TABLE_1",
    "TABLE_1_ACTIONS",
    "TABLE_1_REACH",
    "Action",
    "ClaimLayout",
    "Decision",
    "Grant",
    "GrantError",
    "GrantFailure",
    "Identity",
    "IdentityAdmin",
    "IdentityProviderError",
    "KeycloakSettings",
    "KeysUnavailableError",
    "PermissionDeniedError",
    "ProvisioningError",
    "Reach",
    "Resource",
    "ResourceKind",
    "Role",
    "ServiceAccount",
    "TokenError",
    "TokenFailure",
    "TokenVerifier",
    "UserRecord",
    "authorize",
    "issue_grant",
    "read_grant",
    "require",
    "verify_grant",
    "visible",
    "widest_reach",
]
