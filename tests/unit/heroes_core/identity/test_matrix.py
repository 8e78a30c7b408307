"""Every (role, action) pair against the design's Table 1, transcribed here independently of the code.

The expected matrices below are written from D3.1 section 3.3.1 (Table 1) and from the
additions the identity package documents, as text a reviewer compares with the design; they
are parsed here, not taken from ``heroes_core.identity``, so a wrong cell in the code's table
fails these tests. Each pair is tried on a resource the caller could reach at best (their own,
in their organisation and project); then every action is tried on another organisation's
resource by every role: denied unless the grant is platform-wide, and the refusal names
nothing of the other organisation.
"""

from __future__ import annotations

import pytest

from heroes_core.errors import HeroesError
from heroes_core.identity import (
    APPLIES_TO,
    Action,
    Identity,
    PermissionDeniedError,
    Resource,
    Role,
    authorize,
    require,
)

# D3.1, Table 1. Example of possible actions by roles (an "x" per cross of the design).
DESIGN_TABLE_1 = """
Role / Actions                   | Submit job/workflow | Data access (home) | Manage data access | Manage workflows | Manage users/groups and roles | Package application | Publish applications marketplace | Publish resources in marketplace | Billings access and cost management
Client Organizations
Engineer, Researcher             | x | x |   |   |   |   |   |   |
Workflow admin                   | x | x |   | x |   |   |   |   |
Application packager             | x |   |   |   |   | x |   |   |
Project admin                    |   |   | x |   | x |   |   |   |
Billing admin                    |   |   |   |   |   |   |   |   | x
Heroes Organization
Solution admin                   | x | x | x | x | x | x |   |   | x
Tenant admin, Organization admin |   |   |   |   | x |   |   |   | x
Infrastructure admin             |   |   |   |   |   |   |   |   |
Billing admin                    |   |   |   |   |   |   |   |   | x
Providers
Resource Providers               |   |   |   |   |   |   |   | x |
Application Providers            | x |   |   |   |   | x | x |   |
"""

# The additions HEROES needs beyond Table 1 (D3.1 section 3.3): own = the caller's own,
# proj = the caller's organisation in their projects, org = the caller's organisation,
# any = every organisation; blank = denied.
ADDITIONS = """
Role                             | read runs | cancel run | manage service accounts | manage infrastructure | manage organisations | access project data
Client Organizations
Engineer, Researcher             | own  | own  |      |      |      | proj
Workflow admin                   | org  | org  |      |      |      | proj
Application packager             | own  | own  |      |      |      |
Project admin                    |      |      |      |      |      |
Billing admin                    |      |      |      |      |      |
Heroes Organization
Solution admin                   | org  | org  | any  | any  | any  | org
Tenant admin, Organization admin |      |      |      |      | any  |
Infrastructure admin             |      |      | any  | any  |      |
Billing admin                    |      |      |      |      |      |
Providers
Resource Providers               |      |      |      |      |      |
Application Providers            | own  | own  |      |      |      |
"""

# The design's words for each column and row, mapped to the code's names.
COLUMNS = {
    "Submit job/workflow": Action.SUBMIT_WORKFLOW,
    "Data access (home)": Action.ACCESS_HOME_DATA,
    "Manage data access": Action.MANAGE_DATA_ACCESS,
    "Manage workflows": Action.MANAGE_WORKFLOWS,
    "Manage users/groups and roles": Action.MANAGE_USERS,
    "Package application": Action.PACKAGE_APPLICATION,
    "Publish applications marketplace": Action.PUBLISH_APPLICATION,
    "Publish resources in marketplace": Action.PUBLISH_RESOURCES,
    "Billings access and cost management": Action.BILLING,
    "read runs": Action.READ_RUNS,
    "cancel run": Action.CANCEL_RUN,
    "manage service accounts": Action.MANAGE_SERVICE_ACCOUNTS,
    "manage infrastructure": Action.MANAGE_INFRASTRUCTURE,
    "manage organisations": Action.MANAGE_ORGANISATIONS,
    "access project data": Action.ACCESS_PROJECT_DATA,
}
ROWS = {
    ("Client Organizations", "Engineer, Researcher"): Role.ENGINEER,
    ("Client Organizations", "Workflow admin"): Role.WORKFLOW_ADMIN,
    ("Client Organizations", "Application packager"): Role.APPLICATION_PACKAGER,
    ("Client Organizations", "Project admin"): Role.PROJECT_ADMIN,
    ("Client Organizations", "Billing admin"): Role.BILLING_ADMIN,
    ("Heroes Organization", "Solution admin"): Role.SOLUTION_ADMIN,
    ("Heroes Organization", "Tenant admin, Organization admin"): Role.TENANT_ADMIN,
    ("Heroes Organization", "Infrastructure admin"): Role.INFRASTRUCTURE_ADMIN,
    ("Heroes Organization", "Billing admin"): Role.HEROES_BILLING_ADMIN,
    ("Providers", "Resource Providers"): Role.RESOURCE_PROVIDER,
    ("Providers", "Application Providers"): Role.APPLICATION_PROVIDER,
}
# Where each section's members sit: the HEROES organisation's roles only exist there.
ORGANISATION_OF = {"Client Organizations": "acme", "Heroes Organization": "heroes",
                   "Providers": "hpc-provider"}


def parse(text: str) -> dict[tuple[str, Role], dict[Action, str]]:
    """(section, role) -> action -> cell ('' when empty) for a table above."""
    header, *lines = [line for line in text.strip().splitlines() if line.strip()]
    columns = [COLUMNS[name.strip()] for name in header.split("|")[1:]]
    section, cells_of = "", {}
    for line in lines:
        if "|" not in line:
            section = line.strip()
            continue
        name, *cells = (cell.strip() for cell in line.split("|"))
        assert len(cells) == len(columns), line
        cells_of[(section, ROWS[(section, name)])] = dict(zip(columns, cells, strict=True))
    assert {role for _, role in cells_of} == set(Role), "every role has a row"
    return cells_of


TABLE_1 = parse(DESIGN_TABLE_1)
EXTRA = parse(ADDITIONS)
EXPECTED = {key: {**TABLE_1[key], **EXTRA[key]} for key in TABLE_1}
PAIRS = [(section, role, action, cell) for (section, role), cells in EXPECTED.items()
         for action, cell in cells.items()]


def test_the_transcription_covers_every_role_and_action() -> None:
    assert {action for _, _, action, _ in PAIRS} == set(Action)
    assert len(PAIRS) == len(Role) * len(Action)


def caller(section: str, role: Role) -> Identity:
    return Identity(subject="id-1", user="alice", organisation=ORGANISATION_OF[section],
                    projects=frozenset({"cfd"}), roles=frozenset({role}))


def best_case(identity: Identity, action: Action) -> Resource:
    """A resource the action applies to, in the caller's organisation and project, owned by them."""
    kind = sorted(APPLIES_TO[action])[0]
    return Resource(kind=kind, organisation=identity.organisation, owner=identity.user, project="cfd",
                    id="r-1")


@pytest.mark.parametrize(("section", "role", "action", "cell"), PAIRS,
                         ids=[f"{role.value}-{action.value}" for _, role, action, _ in PAIRS])
def test_each_role_and_action_as_the_design_says(section: str, role: Role, action: Action,
                                                 cell: str) -> None:
    identity = caller(section, role)
    decision = authorize(identity, action, best_case(identity, action))
    assert decision.allowed is (cell != ""), decision.reason
    if decision.allowed:
        assert decision.role is role


@pytest.mark.parametrize(("section", "role", "action", "cell"), PAIRS,
                         ids=[f"{role.value}-{action.value}" for _, role, action, _ in PAIRS])
def test_reach_as_the_tables_say(section: str, role: Role, action: Action, cell: str) -> None:
    """Own-only grants stop at another user's resource; project grants at another project."""
    identity = caller(section, role)
    mine = best_case(identity, action)
    colleague = mine.model_copy(update={"owner": "bob"})
    other_project = mine.model_copy(update={"project": "other"})
    own_only = cell == "own" or (cell == "x" and action is Action.ACCESS_HOME_DATA)
    in_projects_only = cell == "proj" or (cell == "x" and action is Action.SUBMIT_WORKFLOW)
    assert authorize(identity, action, colleague).allowed is (cell != "" and not own_only)
    assert authorize(identity, action, other_project).allowed is (cell != "" and not in_projects_only)


@pytest.mark.parametrize(("section", "role", "action", "cell"), PAIRS,
                         ids=[f"{role.value}-{action.value}" for _, role, action, _ in PAIRS])
def test_another_organisation_is_out_of_reach_and_named_nowhere(section: str, role: Role,
                                                                 action: Action, cell: str) -> None:
    identity = caller(section, role)
    foreign = best_case(identity, action).model_copy(update={
        "organisation": "globex-secret", "owner": "zed-owner", "project": "zproject", "id": "zz-run-42"})
    decision = authorize(identity, action, foreign)
    assert decision.allowed is (cell == "any"), decision.reason
    if decision.allowed:
        return
    with pytest.raises(PermissionDeniedError) as raised:
        require(identity, action, foreign)
    error = raised.value
    assert isinstance(error, HeroesError) and isinstance(error, PermissionError)
    assert error.http_status == 403 and error.action == action.value
    message = str(error)
    assert action.value in message and role.value in message
    for secret in ("globex", "zed-owner", "zproject", "zz-run-42"):
        assert secret not in message
    # the refusal is the same words for any other foreign resource, and for one of the caller's
    # own organisation that their grant does not reach: it cannot tell whether the resource exists
    mine = best_case(identity, action)
    lookalikes = [foreign.model_copy(update={"organisation": "initech", "owner": "x", "project": None,
                                             "id": None}),
                  mine.model_copy(update={"owner": "bob"}), mine.model_copy(update={"project": "other"})]
    for lookalike in lookalikes:
        if not authorize(identity, action, lookalike).allowed:
            with pytest.raises(PermissionDeniedError) as again:
                require(identity, action, lookalike)
            assert str(again.value) == message
