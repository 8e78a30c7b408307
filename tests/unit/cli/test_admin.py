"""org / project / user / role / can: the actions table decides before Keycloak is asked anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heroes.cli import app
from heroes.cli._output import FAILED, REFUSED
from heroes.cli.can import table_cell
from heroes_core.identity import Action, Role

from .conftest import World
from .test_session import login

PASSWORDS = {"dave": "dave-pw", "alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


def as_user(world: World, user: str) -> None:
    login(world, user, PASSWORDS[user])


def run(world: World, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = world.runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_a_platform_admin_creates_lists_and_deletes_organisations(world: World) -> None:
    as_user(world, "dave")
    code, out, _ = run(world, "org", "create", "initech", "--display-name", "Initech")
    assert code == 0 and "created organisation initech" in out
    assert world.admin.calls[-1] == ("ensure_organisation", "initech", {"display_name": "Initech", "domains": ()})
    assert world.archive.made == ["bucket initech"] and "heroes-initech" in out
    code, out, _ = run(world, "org", "create", "initech")
    assert code == 0 and "already as asked" in out
    code, out, _ = run(world, "org", "list", "-o", "json")
    assert code == 0 and [row["organisation"] for row in json.loads(out)] == ["acme", "globex", "heroes",
                                                                               "initech"]
    assert "initech" in run(world, "org", "ls")[1]
    code, out, _ = run(world, "org", "delete", "initech", "--yes")
    assert code == 0 and "deleted organisation initech" in out
    code, _, err = run(world, "org", "delete", "heroes", "--yes")
    assert code == FAILED and "HEROES organisation" in err and "heroes" in world.admin.orgs


@pytest.mark.parametrize("args", [["org", "create", "initech"], ["org", "list"], ["org", "delete", "acme", "-y"]])
def test_organisations_are_the_platforms_to_manage(world: World, args: list[str]) -> None:
    as_user(world, "bob")  # project admin of acme: manages acme's users, not organisations
    code, _, err = run(world, *args)
    assert code == REFUSED
    assert err.startswith("Refused (403)") and "manage-organisations" in err
    assert world.admin.calls == [] and world.archive.made == []


def test_new_projects_and_users_get_their_areas_in_the_archive(world: World) -> None:
    as_user(world, "bob")
    assert run(world, "project", "create", "quantum")[0] == 0
    assert run(world, "user", "create", "erin", "-r", "engineer", "-p", "quantum")[0] == 0
    assert world.archive.made == ["acme:projects/quantum/", "acme:erin/"]


def test_a_project_admin_manages_projects_users_and_roles_of_their_organisation(world: World) -> None:
    as_user(world, "bob")
    assert run(world, "project", "create", "quantum")[0] == 0
    assert ("ensure_project", "acme", "quantum") in world.admin.calls
    code, out, _ = run(world, "project", "list", "-o", "json")
    assert code == 0 and [row["project"] for row in json.loads(out)] == ["climate", "fusion", "quantum"]
    code, out, _ = run(world, "user", "create", "erin", "-r", "engineer", "-r", "workflow-admin", "-p", "quantum",
                       "--password-stdin", input="erin-pw\n")
    assert code == 0, out
    name, organisation, user, options = world.admin.calls[-1]
    assert (name, organisation, user) == ("ensure_user", "acme", "erin")
    assert set(options["roles"]) == {Role.ENGINEER, Role.WORKFLOW_ADMIN} and options["projects"] == ["quantum"]
    assert options["password"].get_secret_value() == "erin-pw"
    code, out, _ = run(world, "user", "list")
    assert code == 0 and "erin" in out and "workflow-admin" in out and "globex" not in out
    assert run(world, "role", "grant", "erin", "billing-admin")[0] == 0
    assert world.keycloak.members["erin"].roles == {Role.ENGINEER, Role.WORKFLOW_ADMIN, Role.BILLING_ADMIN}
    assert world.keycloak.members["erin"].projects == {"quantum"}
    assert run(world, "role", "revoke", "erin", "workflow-admin")[0] == 0
    assert world.keycloak.members["erin"].roles == {Role.ENGINEER, Role.BILLING_ADMIN}
    code, _, err = run(world, "role", "grant", "nobody", "engineer")
    assert code == FAILED and "has no user nobody" in err
    assert run(world, "user", "delete", "erin", "--yes")[0] == 0
    assert "erin" not in world.keycloak.members
    assert run(world, "project", "delete", "quantum", "-y")[0] == 0


@pytest.mark.parametrize("args", [
    ["user", "list", "--org", "globex"], ["user", "create", "mallory", "--org", "globex", "-r", "engineer"],
    ["user", "delete", "carol", "--org", "globex", "-y"], ["project", "create", "x", "--org", "globex"],
    ["project", "list", "--org", "globex"], ["role", "grant", "carol", "engineer", "--org", "globex"],
    ["role", "revoke", "carol", "engineer", "--org", "globex"],
    ["can", "carol", "submit-workflow", "workflow:globex/climate", "--org", "globex"],
])
def test_another_organisations_members_are_refused_without_a_word_about_it(world: World,
                                                                          args: list[str]) -> None:
    as_user(world, "bob")
    code, out, err = run(world, *args)
    assert code == REFUSED, out + err
    assert "Refused (403)" in err and "manage-users-groups-roles" in err
    assert "globex" not in out + err and "carol" not in out + err
    assert world.admin.calls == []  # Keycloak was asked nothing


def test_an_engineer_may_not_manage_users(world: World) -> None:
    as_user(world, "alice")
    code, _, err = run(world, "user", "list")
    assert code == REFUSED and "none of the caller's roles (engineer)" in err
    assert world.admin.calls == []


def test_a_platform_admin_administers_any_organisation(world: World) -> None:
    as_user(world, "dave")  # manage-organisations reaches every organisation
    assert run(world, "user", "list", "--org", "globex")[0] == 0
    assert ("users", "globex") in world.admin.calls


def test_role_list_shows_the_table_without_a_login(world: World) -> None:
    code, out, _ = run(world, "role", "list", "-o", "json")
    assert code == 0
    rows = {row["role"]: row for row in json.loads(out)}
    assert set(rows) == {role.value for role in Role}
    assert "submit-workflow (project)" in rows["engineer"]["allows"]
    assert rows["solution-admin"]["held_in"] == "HEROES organisation"


def test_can_explains_an_allowed_action_with_its_cell(world: World) -> None:
    as_user(world, "bob")
    code, out, _ = run(world, "can", "alice", "submit-workflow", "workflow:acme/climate")
    assert code == 0, out
    assert out.startswith("allowed: alice (acme) may submit-workflow on workflow:acme/climate")
    assert "Table 1, row engineer, column submit-workflow: cross, reach project" in out
    code, out, _ = run(world, "can", "alice", "submit-workflow", "workflow:acme/fusion")
    assert code == 1 and out.startswith("denied") and "in their projects" in out


def test_can_explains_a_denial_across_organisations_and_in_the_additions(world: World) -> None:
    as_user(world, "dave")
    code, out, _ = run(world, "can", "carol", "manage-workflows", "workflow:acme", "--org", "globex")
    assert code == 1 and "only on workflow resources of organisation 'globex'" in out
    code, out, _ = run(world, "can", "dave", "manage-organisations", "organisation:acme", "-o", "json")
    answer = json.loads(out)
    assert code == 0 and answer["allowed"] and answer["role"] == "solution-admin"
    assert "additions to Table 1, row tenant-admin, column manage-organisations: reach any" in answer["cells"]
    assert answer["reference"].startswith("3.3")


def test_anyone_may_ask_about_themselves(world: World) -> None:
    as_user(world, "alice")
    code, out, _ = run(world, "can", "alice", "billing-and-costs", "billing:acme")
    assert code == 1 and "Table 1, row engineer, column billing-and-costs: empty" in out
    assert "billing-admin" in out  # the roles that would allow it


def test_a_malformed_resource_is_a_usage_error(world: World) -> None:
    as_user(world, "alice")
    for resource in ("acme", "planet:acme", "workflow:ACME!"):
        code, _, err = run(world, "can", "alice", "submit-workflow", resource)
        assert code == 2 and "RESOURCE" in err


def test_bad_names_are_refused_before_anything_else(world: World) -> None:
    as_user(world, "dave")
    code, _, err = run(world, "org", "create", "No Such")
    assert code == FAILED and "organisation name 'No Such' is not valid" in err
    code, _, err = run(world, "user", "create", "Bad", "--org", "acme")
    assert code == FAILED and "user name 'Bad' is not valid" in err
    code, _, _ = run(world, "role", "grant", "alice", "wizard", "--org", "acme")
    assert code == 2
    assert world.admin.changed() == []


def test_every_cell_is_named_by_its_table() -> None:
    assert table_cell(Role.PROJECT_ADMIN, Action.MANAGE_USERS) == (
        "Table 1, row project-admin, column manage-users-groups-roles: cross, reach organisation")
    assert table_cell(Role.ENGINEER, Action.CANCEL_RUN) == (
        "additions to Table 1, row engineer, column cancel-run: reach own")
    assert table_cell(Role.BILLING_ADMIN, Action.READ_RUNS).endswith(": empty")


def test_a_workflow_admin_sets_their_organisations_energy_policy_and_no_one_elses(
        world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from heroes.cli import _session
    from heroes_core.energy.policy import EnergyPolicies
    from heroes_core.store import Database

    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    monkeypatch.setattr(_session, "load_database", lambda name="heroes-database": database)
    as_user(world, "carol")  # workflow admin of globex
    code, out, _ = run(world, "org", "energy-policy", "globex", "--default", "min_energy", "--users-may-choose")
    assert code == 0 and "run under min_energy; users may choose" in out
    setting = EnergyPolicies(database).get("globex")
    assert (setting.default_policy, setting.users_may_choose) == ("min_energy", True)
    code, _, err = run(world, "org", "energy-policy", "acme", "--default", "min_time")
    assert code == REFUSED and "manage-workflows" in err
    assert EnergyPolicies(database).get("acme").default_policy is None
    code, _, err = run(world, "org", "energy-policy", "globex", "--default", "--ear=off")
    assert code != 0 and EnergyPolicies(database).get("globex").default_policy == "min_energy"
    as_user(world, "alice")  # an engineer: not a workflow admin
    assert run(world, "org", "energy-policy", "acme")[0] == REFUSED
    database.dispose()


def test_a_workflow_admin_fixes_their_organisations_decision_policy_and_no_one_elses(
        world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from heroes.cli import _session
    from heroes_core.decision.policy import DecisionPolicies
    from heroes_core.store import Database

    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    monkeypatch.setattr(_session, "load_database", lambda name="heroes-database": database)
    as_user(world, "carol")  # workflow admin of globex
    code, out, _ = run(world, "org", "decision-policy", "globex", "--allow", "north", "--allow", "south",
                       "--strategy", "weighted", "--weight", "time=1", "--weight", "energy=3",
                       "--energy-cap-kj", "500", "--no-users-may-change")
    assert code == 0 and "platforms north, south" in out and "users may not change them" in out
    policy = DecisionPolicies(database).get("globex", "any-workflow")
    assert (policy.strategy, policy.weights, policy.energy_cap_kj) == ("weighted", {"time": 1, "energy": 3}, 500)
    code, _, err = run(world, "org", "decision-policy", "globex", "--strategy", "weighted")
    assert code != 0 and "weighted strategy needs weights" in err
    code, _, err = run(world, "org", "decision-policy", "globex", "--strategy", "weighted", "--weight", "time")
    assert code != 0 and "NAME=NUMBER" in err
    assert DecisionPolicies(database).get("globex") == policy  # a refused change changes nothing
    code, _, err = run(world, "org", "decision-policy", "acme", "--strategy", "price")
    assert code == REFUSED and "manage-workflows" in err
    assert DecisionPolicies(database).get("acme").strategy == "time"
    database.dispose()
