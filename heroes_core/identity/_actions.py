"""The design's table of actions by roles, as data (D3.1 section 3.3.1, Table 1).

How to read it
--------------
``TABLE_1`` is Table 1 of the architecture document, row for row and column for column:
one row per role in the design's order (client organisations, then the HEROES
organisation, then providers), one column per action in the design's order. ``X`` is a
cross in the design's table, ``_`` an empty cell. Hold it against the design's table: the
two must match cell by cell.

A cross means "within the caller's own organisation", and each column has one reach,
``TABLE_1_REACH``: data access (home) reaches only the caller's own home; submitting a
workflow reaches the organisation's workflows of the caller's projects (or without a
project); every other column reaches the whole organisation. No cross of Table 1 reaches
another organisation, not even for the HEROES organisation's roles: section 4.1.1 says
organisations are independent of each other.

``ADDITIONS`` holds the few actions HEROES needs that Table 1 omits, each named from
section 3 of the design (see :data:`ADDITION_REFERENCES`). Its cells give the reach
directly: ``OWN`` (what the caller owns), ``ORG`` (the caller's organisation), ``ANY``
(every organisation). ``ANY`` appears only for the HEROES organisation's platform roles
(:data:`PLATFORM_ROLES`), which only a member of the HEROES organisation can hold, and only
for the platform actions of section 3.3 ("overall management of the HEROES platform").

``PERMISSIONS`` merges both into role -> action -> reach, what ``authorize`` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

# The HEROES organisation: the organisation that runs the platform (D3.1 section 3.1.2).
# Its name is one no customer organisation can take (models.RESERVED_ORGANISATION_NAMES).
HEROES_ORGANISATION: Final = "heroes"


class Role(StrEnum):
    """A role of D3.1 section 3.1.2 / Table 1; the value is the Keycloak realm role's name."""

    # Client organisations
    ENGINEER = "engineer"  # "Engineer, Researcher"
    WORKFLOW_ADMIN = "workflow-admin"
    APPLICATION_PACKAGER = "application-packager"
    PROJECT_ADMIN = "project-admin"
    BILLING_ADMIN = "billing-admin"
    # HEROES organisation
    SOLUTION_ADMIN = "solution-admin"
    TENANT_ADMIN = "tenant-admin"  # "Tenant admin, Organization admin"
    INFRASTRUCTURE_ADMIN = "infrastructure-admin"
    HEROES_BILLING_ADMIN = "heroes-billing-admin"  # Table 1's second "Billing admin"
    # Providers
    RESOURCE_PROVIDER = "resource-provider"
    APPLICATION_PROVIDER = "application-provider"


# Roles only a member of the HEROES organisation may hold (Table 1, "Heroes Organization").
PLATFORM_ROLES: Final = frozenset({Role.SOLUTION_ADMIN, Role.TENANT_ADMIN, Role.INFRASTRUCTURE_ADMIN,
                                   Role.HEROES_BILLING_ADMIN})


class Action(StrEnum):
    """An action of Table 1 (first nine, the design's column order), then the additions."""

    SUBMIT_WORKFLOW = "submit-workflow"  # "Submit job/workflow"
    ACCESS_HOME_DATA = "access-home-data"  # "Data access (home)"
    MANAGE_DATA_ACCESS = "manage-data-access"  # "Manage data access"
    MANAGE_WORKFLOWS = "manage-workflows"  # "Manage workflows"
    MANAGE_USERS = "manage-users-groups-roles"  # "Manage users/groups and roles"
    PACKAGE_APPLICATION = "package-application"  # "Package application"
    PUBLISH_APPLICATION = "publish-application"  # "Publish applications marketplace"
    PUBLISH_RESOURCES = "publish-resources"  # "Publish resources in marketplace"
    BILLING = "billing-and-costs"  # "Billings access and cost management"
    # Additions (not in Table 1; see ADDITION_REFERENCES)
    READ_RUNS = "read-runs"
    CANCEL_RUN = "cancel-run"
    MANAGE_SERVICE_ACCOUNTS = "manage-service-accounts"
    MANAGE_INFRASTRUCTURE = "manage-infrastructure"
    MANAGE_ORGANISATIONS = "manage-organisations"
    ACCESS_PROJECT_DATA = "access-project-data"


class Reach(StrEnum):
    """Which resources a granted action reaches, narrowest first."""

    OWN = "own"  # resources of the caller's organisation whose owner is the caller
    PROJECT = "project"  # the caller's organisation, in one of the caller's projects or in none
    ORG = "organisation"  # anything of the caller's organisation
    ANY = "any"  # every organisation: only platform roles, only platform actions


TABLE_1_ACTIONS: Final = (
    Action.SUBMIT_WORKFLOW, Action.ACCESS_HOME_DATA, Action.MANAGE_DATA_ACCESS, Action.MANAGE_WORKFLOWS,
    Action.MANAGE_USERS, Action.PACKAGE_APPLICATION, Action.PUBLISH_APPLICATION, Action.PUBLISH_RESOURCES,
    Action.BILLING,
)

X, _ = True, False

# Table 1. Example of possible actions by roles (D3.1 section 3.3.1).
#                                 submit  home  manage  manage  manage   package  publish  publish    billing
#                                 job/wf        data    work-   users/   appli-   apps     resources  & cost
#                                               access  flows   roles    cation   market   market     mgmt
TABLE_1: Final[Mapping[Role, tuple[bool, ...]]] = MappingProxyType({
    # Client Organizations
    Role.ENGINEER:             (X,      X,    _,      _,      _,       _,       _,       _,         _),
    Role.WORKFLOW_ADMIN:       (X,      X,    _,      X,      _,       _,       _,       _,         _),
    Role.APPLICATION_PACKAGER: (X,      _,    _,      _,      _,       X,       _,       _,         _),
    Role.PROJECT_ADMIN:        (_,      _,    X,      _,      X,       _,       _,       _,         _),
    Role.BILLING_ADMIN:        (_,      _,    _,      _,      _,       _,       _,       _,         X),
    # Heroes Organization
    Role.SOLUTION_ADMIN:       (X,      X,    X,      X,      X,       X,       _,       _,         X),
    Role.TENANT_ADMIN:         (_,      _,    _,      _,      X,       _,       _,       _,         X),
    Role.INFRASTRUCTURE_ADMIN: (_,      _,    _,      _,      _,       _,       _,       _,         _),
    Role.HEROES_BILLING_ADMIN: (_,      _,    _,      _,      _,       _,       _,       _,         X),
    # Providers
    Role.RESOURCE_PROVIDER:    (_,      _,    _,      _,      _,       _,       _,       X,         _),
    Role.APPLICATION_PROVIDER: (X,      _,    _,      _,      _,       X,       X,       _,         _),
})

# How far a cross of Table 1 reaches, per column (never past the caller's organisation).
TABLE_1_REACH: Final[Mapping[Action, Reach]] = MappingProxyType({
    Action.SUBMIT_WORKFLOW: Reach.PROJECT,
    Action.ACCESS_HOME_DATA: Reach.OWN,
    Action.MANAGE_DATA_ACCESS: Reach.ORG,
    Action.MANAGE_WORKFLOWS: Reach.ORG,
    Action.MANAGE_USERS: Reach.ORG,
    Action.PACKAGE_APPLICATION: Reach.ORG,
    Action.PUBLISH_APPLICATION: Reach.ORG,
    Action.PUBLISH_RESOURCES: Reach.ORG,
    Action.BILLING: Reach.ORG,
})

ADDITION_ACTIONS: Final = (
    Action.READ_RUNS, Action.CANCEL_RUN, Action.MANAGE_SERVICE_ACCOUNTS, Action.MANAGE_INFRASTRUCTURE,
    Action.MANAGE_ORGANISATIONS, Action.ACCESS_PROJECT_DATA,
)

# Why each addition exists, in the design's words.
ADDITION_REFERENCES: Final[Mapping[Action, str]] = MappingProxyType({
    Action.READ_RUNS: "3.3: 'the interaction with workflow and jobs within the Organization'; "
                      "whoever submits sees their own runs, workflow admins the organisation's",
    Action.CANCEL_RUN: "3.3: 'the interaction with workflow and jobs within the Organization'",
    Action.MANAGE_SERVICE_ACCOUNTS: "3.3: 'Management of the Service Accounts'; 3.1.2: infrastructure "
                                    "admin, 'CSP & HPC Centre access management'",
    Action.MANAGE_INFRASTRUCTURE: "3.1.2: infrastructure admin, 'CSP & HPC Centre access management'; "
                                  "3.2: enrolling HPC centres and integrating clouds",
    Action.MANAGE_ORGANISATIONS: "3.3: 'Management of any Organization'; 3.1.2: tenant / organization "
                                 "admin",
    Action.ACCESS_PROJECT_DATA: "4.4.2: users access data in the Central Archive; 4.5.1: 'specific "
                                "organization, project, group, user' as targets. Table 1 names only "
                                "the home: a project's shared area is read and written by its members "
                                "who have home data access (project admins reach every project's area "
                                "through 'Manage data access')",
})

OWN, PROJ, ORG, ANY, NO = Reach.OWN, Reach.PROJECT, Reach.ORG, Reach.ANY, None

# Additions (not in Table 1). Cells give the reach; NO is an empty cell.
#                                  read    cancel  manage    manage    manage    access
#                                  runs    run     service   infra-    organi-   project
#                                                  accounts  structure sations   data
ADDITIONS: Final[Mapping[Role, tuple[Reach | None, ...]]] = MappingProxyType({
    # Client Organizations
    Role.ENGINEER:             (OWN,    OWN,    NO,       NO,       NO,       PROJ),
    Role.WORKFLOW_ADMIN:       (ORG,    ORG,    NO,       NO,       NO,       PROJ),
    Role.APPLICATION_PACKAGER: (OWN,    OWN,    NO,       NO,       NO,       NO),
    Role.PROJECT_ADMIN:        (NO,     NO,     NO,       NO,       NO,       NO),
    Role.BILLING_ADMIN:        (NO,     NO,     NO,       NO,       NO,       NO),
    # Heroes Organization
    Role.SOLUTION_ADMIN:       (ORG,    ORG,    ANY,      ANY,      ANY,      ORG),
    Role.TENANT_ADMIN:         (NO,     NO,     NO,       NO,       ANY,      NO),
    Role.INFRASTRUCTURE_ADMIN: (NO,     NO,     ANY,      ANY,      NO,       NO),
    Role.HEROES_BILLING_ADMIN: (NO,     NO,     NO,       NO,       NO,       NO),
    # Providers
    Role.RESOURCE_PROVIDER:    (NO,     NO,     NO,       NO,       NO,       NO),
    Role.APPLICATION_PROVIDER: (OWN,    OWN,    NO,       NO,       NO,       NO),
})


def _merge() -> Mapping[Role, Mapping[Action, Reach]]:
    merged: dict[Role, Mapping[Action, Reach]] = {}
    for role in Role:
        granted = {action: TABLE_1_REACH[action]
                   for action, cross in zip(TABLE_1_ACTIONS, TABLE_1[role], strict=True) if cross}
        granted.update({action: reach for action, reach in zip(ADDITION_ACTIONS, ADDITIONS[role], strict=True)
                        if reach is not None})
        merged[role] = MappingProxyType(granted)
    return MappingProxyType(merged)


PERMISSIONS: Final = _merge()

# Every role, every action of both tables, exactly once; and ANY only for platform roles.
assert set(TABLE_1) == set(ADDITIONS) == set(Role)
assert set(TABLE_1_ACTIONS) | set(ADDITION_ACTIONS) == set(Action)
assert all(reach is not Reach.ANY or role in PLATFORM_ROLES
           for role, granted in PERMISSIONS.items() for reach in granted.values())
