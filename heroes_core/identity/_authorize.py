"""``authorize(identity, action, resource)``: the actions table applied, organisations kept apart.

A role grants an action with a reach (``_actions.PERMISSIONS``). The caller may act when one
of their roles grants the action and that grant reaches the resource:

* ``own``: a resource of the caller's organisation whose owner is the caller (a home is
  only ever its owner's: no role reaches another user's home);
* ``project``: a resource of the caller's organisation, in one of the caller's projects or
  in no project;
* ``organisation``: any resource of the caller's organisation;
* ``any``: any organisation's resource. Only the HEROES organisation's platform roles have
  it, only for the platform actions (manage organisations, service accounts,
  infrastructure), and only a member of the HEROES organisation can hold them.

So a resource of another organisation is denied whatever the role, except to those
platform grants. A denial's reason depends only on the caller and the action (their roles,
their widest reach), never on the resource's organisation, owner, project or id: the same
words come back whether the resource is someone else's, another organisation's, or does
not exist, so a refusal tells nothing about other organisations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.errors import PermissionDeniedError
from heroes_core.identity._actions import PERMISSIONS, Action, Reach, Role
from heroes_core.identity._identity import Identity, check_organisation
from heroes_core.models import Name, Organisation


class ResourceKind(StrEnum):
    """What a resource is; each action applies to some kinds only (:data:`APPLIES_TO`)."""

    WORKFLOW = "workflow"  # a workflow (deployment) one may launch or manage
    RUN = "run"  # a workflow or job run
    HOME = "home"  # a user's home data
    DATA = "data"  # an organisation's or a project's shared data
    APPLICATION = "application"
    OFFERING = "offering"  # resources a provider publishes in the marketplace
    BILLING = "billing"  # budgets, ledger, billing reports
    MEMBERSHIP = "membership"  # an organisation's users, groups and roles
    ORGANISATION = "organisation"
    SERVICE_ACCOUNT = "service-account"
    INFRASTRUCTURE = "infrastructure"  # HPC centres, cloud accounts and clusters


APPLIES_TO: Final[Mapping[Action, frozenset[ResourceKind]]] = MappingProxyType({
    Action.SUBMIT_WORKFLOW: frozenset({ResourceKind.WORKFLOW}),
    Action.ACCESS_HOME_DATA: frozenset({ResourceKind.HOME}),
    Action.MANAGE_DATA_ACCESS: frozenset({ResourceKind.DATA}),
    Action.MANAGE_WORKFLOWS: frozenset({ResourceKind.WORKFLOW}),
    Action.MANAGE_USERS: frozenset({ResourceKind.MEMBERSHIP}),
    Action.PACKAGE_APPLICATION: frozenset({ResourceKind.APPLICATION}),
    Action.PUBLISH_APPLICATION: frozenset({ResourceKind.APPLICATION}),
    Action.PUBLISH_RESOURCES: frozenset({ResourceKind.OFFERING}),
    Action.BILLING: frozenset({ResourceKind.BILLING}),
    Action.READ_RUNS: frozenset({ResourceKind.RUN}),
    Action.CANCEL_RUN: frozenset({ResourceKind.RUN}),
    Action.MANAGE_SERVICE_ACCOUNTS: frozenset({ResourceKind.SERVICE_ACCOUNT}),
    Action.MANAGE_INFRASTRUCTURE: frozenset({ResourceKind.INFRASTRUCTURE}),
    Action.MANAGE_ORGANISATIONS: frozenset({ResourceKind.ORGANISATION}),
    Action.ACCESS_PROJECT_DATA: frozenset({ResourceKind.DATA}),
})

# What makes a resource show in a listing: any of these actions allowed on it.
LISTED_BY: Final[Mapping[ResourceKind, tuple[Action, ...]]] = MappingProxyType({
    kind: tuple(action for action in Action if kind in APPLIES_TO[action]) for kind in ResourceKind})

_WIDEST_FIRST = (Reach.ANY, Reach.ORG, Reach.PROJECT, Reach.OWN)
_ROLE_ORDER = {role: index for index, role in enumerate(Role)}


class Resource(BaseModel):
    """What an action is about: its kind, organisation and, where it has them, owner and project."""

    model_config = ConfigDict(frozen=True)

    kind: ResourceKind
    organisation: Organisation
    owner: Name | None = None
    project: Name | None = None
    id: str | None = Field(default=None, min_length=1, max_length=255)

    @field_validator("organisation")
    @classmethod
    def _organisation_not_reserved(cls, value: str) -> str:
        return check_organisation(value)


class Decision(BaseModel):
    """Allowed or not, and why in words safe to show the caller."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    action: Action
    reason: str
    role: Role | None = Field(default=None, description="The role that grants the action, if allowed.")


def _reaches(identity: Identity, reach: Reach, resource: Resource) -> bool:
    if reach is Reach.ANY:
        return identity.platform
    if resource.organisation != identity.organisation:
        return False
    if reach is Reach.ORG:
        return True
    if reach is Reach.PROJECT:
        return resource.project is None or resource.project in identity.projects
    return resource.owner is not None and resource.owner == identity.user


def _scope(reach: Reach, kind: ResourceKind, identity: Identity) -> str:
    things = f"{kind.value} resources"
    if reach is Reach.OWN:
        return f"their own {things} in organisation '{identity.organisation}'"
    if reach is Reach.PROJECT:
        return f"{things} of organisation '{identity.organisation}' in their projects"
    if reach is Reach.ORG:
        return f"{things} of organisation '{identity.organisation}'"
    return f"{things} of any organisation"


def _roles(identity: Identity) -> str:
    return ", ".join(role.value for role in Role if role in identity.roles) or "no HEROES role"


def authorize(identity: Identity, action: Action, resource: Resource) -> Decision:
    """Whether ``identity`` may do ``action`` on ``resource``, by the actions table."""
    if resource.kind not in APPLIES_TO[action]:
        return Decision(allowed=False, action=action,
                        reason=f"{action.value} does not apply to a {resource.kind.value} resource")
    grants = sorted(((role, reach) for role in identity.roles if (reach := PERMISSIONS[role].get(action))),
                    key=lambda grant: (_WIDEST_FIRST.index(grant[1]), _ROLE_ORDER[grant[0]]))
    if not grants:
        return Decision(allowed=False, action=action,
                        reason=f"none of the caller's roles ({_roles(identity)}) allows {action.value}")
    for role, reach in grants:
        if _reaches(identity, reach, resource):
            scope = _scope(reach, resource.kind, identity)
            return Decision(allowed=True, action=action, role=role,
                            reason=f"{role.value} may {action.value} on {scope}")
    role, reach = grants[0]
    scope = _scope(reach, resource.kind, identity)
    return Decision(allowed=False, action=action, reason=f"{role.value} may {action.value} only on {scope}")


def require(identity: Identity, action: Action, resource: Resource) -> Decision:
    """:func:`authorize`, raising :class:`PermissionDeniedError` when it is refused."""
    decision = authorize(identity, action, resource)
    if decision.allowed:
        return decision
    allowing = [role.value for role in Role if action in PERMISSIONS[role]]
    raise PermissionDeniedError(
        f"'{identity.user}' of organisation '{identity.organisation}' ({_roles(identity)}) may not "
        f"{action.value} here: {decision.reason}", action=action.value,
        fix=f"roles that allow {action.value}: {', '.join(allowing)}; ask an administrator of your "
            "organisation if you need one")


def widest_reach(identity: Identity, action: Action) -> Reach | None:
    """How far ``action`` reaches for ``identity`` through its widest role, or None if no role allows it.

    A listing asks the store for what this reach covers (the organisation's runs, or only the
    caller's own) instead of fetching everything and filtering: the filter then never sees,
    nor counts, another organisation's resources.
    """
    reaches = {reach for role in identity.roles if (reach := PERMISSIONS[role].get(action))}
    return next((reach for reach in _WIDEST_FIRST if reach in reaches), None)


def visible(identity: Identity, resources: Iterable[Resource],
            action: Action | None = None) -> list[Resource]:
    """The resources a listing may show: those ``action`` (by default, any action on their kind) allows."""
    return [resource for resource in resources
            if any(authorize(identity, candidate, resource).allowed
                   for candidate in ((action,) if action is not None else LISTED_BY[resource.kind]))]
