"""The `heroes` command against the test bed's real Keycloak and Prefect server.

A uniquely named realm is provisioned with only the HEROES organisation and its solution
admin, and a KeycloakRealm block naming it is saved on the Prefect server. Everything else
is done through the CLI as a user would: the solution admin logs in (the installed `heroes`
command, password on standard input), creates two organisations, a project and users with
roles; those users log in, `whoami` shows what their verified tokens say, `can` answers as
the actions table says, and a project admin of one organisation is refused the other's
users without a word about it. The block and the realm are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from heroes.cli._output import REFUSED
from heroes_core.identity import IdentityAdmin, KeycloakSettings, Role
from heroes_core.identity import oidc as _oidc
from tests.integration.cli_runner import Cli as SharedCli

PASSWORDS = {"dave": "dave-pw-1", "alice": "alice-pw-1", "bob": "bob-pw-1", "carol": "carol-pw-1"}
HEROES = Path(sys.executable).parent / "heroes"


class Cli(SharedCli):
    def login(self, user: str, password: str | None = None) -> str:
        return super().login(user, password or PASSWORDS[user])


@pytest.fixture(scope="module")
def realm(keycloak: dict[str, Any]) -> Iterator[tuple[KeycloakSettings, str]]:
    from heroes.blocks import KeycloakRealm

    suffix = uuid.uuid4().hex[:8]
    settings = KeycloakSettings(server_url=keycloak["url"], realm=f"itest-cli-{suffix}",
                                admin_realm=keycloak["admin_realm"], admin_user=keycloak["admin_user"],
                                admin_password=SecretStr(keycloak["admin_password"]))
    admin = IdentityAdmin(settings)
    block = f"itest-cli-{suffix}"
    try:
        admin.ensure_realm(direct_access_grants=True)
        admin.ensure_organisation("heroes")
        admin.ensure_user("heroes", "dave", roles=[Role.SOLUTION_ADMIN], email="dave@heroes.example",
                          first_name="Dave", last_name="Heroes", password=SecretStr(PASSWORDS["dave"]))
        KeycloakRealm(**settings.model_dump()).save(block)
        yield settings, block
    finally:
        try:
            KeycloakRealm.delete(block)
        finally:
            admin.delete_realm()
            assert not admin.realm_exists()


@pytest.fixture(scope="module")
def cli(realm: tuple[KeycloakSettings, str], tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The world the solution admin builds with the CLI."""
    _, block = realm
    cli = Cli(tmp_path_factory.mktemp("heroes-config"), block)
    # the installed console script, as a user runs it
    login = subprocess.run([str(HEROES), "login", "--user", "dave", "--password-stdin"],
                           input=PASSWORDS["dave"] + "\n", env={**os.environ, **cli.env("dave")},
                           capture_output=True, text=True, check=False, timeout=120)
    assert login.returncode == 0, login.stderr
    assert "Logged in as dave of organisation heroes" in login.stdout
    assert (cli.folder / "dave.json").stat().st_mode & 0o777 == 0o600
    for organisation in ("acme", "globex"):
        assert f"created organisation {organisation}" in cli.ok("dave", "org", "create", organisation)
    assert "created project acme/climate" in cli.ok("dave", "project", "create", "climate", "--org", "acme")
    cli.ok("dave", "project", "create", "climate", "--org", "globex")
    for user, organisation, roles, projects in (("alice", "acme", ["engineer"], ["climate"]),
                                                ("bob", "acme", ["project-admin"], []),
                                                ("carol", "globex", ["engineer"], ["climate"])):
        options = [f"--role={role}" for role in roles] + [f"--project={project}" for project in projects]
        # Keycloak's default user profile wants these before a password login
        options += [f"--email={user}@{organisation}.example", f"--first-name={user.title()}",
                    f"--last-name={organisation.title()}"]
        out = cli.ok("dave", "user", "create", user, "--org", organisation, *options, "--password-stdin",
                     input=PASSWORDS[user] + "\n")
        assert f"created user {user} in {organisation}" in out
    return cli


def test_the_solution_admin_built_the_world_and_sees_it(cli: Cli) -> None:
    organisations = json.loads(cli.ok("dave", "org", "list", "-o", "json"))
    assert [row["organisation"] for row in organisations] == ["acme", "globex", "heroes"]
    users = {row["user"]: row for row in json.loads(cli.ok("dave", "user", "list", "--org", "acme", "-o", "json"))}
    assert set(users) == {"alice", "bob"}
    assert (users["alice"]["roles"], users["alice"]["projects"]) == (["engineer"], ["climate"])
    assert "creat" not in cli.ok("dave", "org", "create", "acme")  # idempotent: nothing to change


def test_whoami_shows_what_the_verified_token_says(cli: Cli) -> None:
    cli.login("alice")
    whoami = json.loads(cli.ok("alice", "whoami", "-o", "json"))
    assert whoami == {"organisation": "acme", "user": "alice", "roles": ["engineer"], "projects": ["climate"]}
    cli.ok("dave", "role", "grant", "alice", "workflow-admin", "--org", "acme")
    cli.login("alice")  # roles are read from a new token
    assert json.loads(cli.ok("alice", "whoami", "-o", "json"))["roles"] == ["engineer", "workflow-admin"]
    cli.ok("dave", "role", "revoke", "alice", "workflow-admin", "--org", "acme")


def test_can_answers_as_the_table_says(cli: Cli) -> None:
    cli.login("bob")
    out = cli.ok("bob", "can", "alice", "submit-workflow", "workflow:acme/climate")
    assert out.startswith("allowed") and "Table 1, row engineer, column submit-workflow: cross" in out
    code, out, _ = cli("bob", "can", "alice", "billing-and-costs", "billing:acme")
    assert code == 1 and out.startswith("denied") and "column billing-and-costs: empty" in out
    code, out, _ = cli("bob", "can", "alice", "submit-workflow", "workflow:globex/climate")
    assert code == 1 and "organisation 'acme'" in out
    out = cli.ok("dave", "can", "carol", "submit-workflow", "workflow:globex/climate", "--org", "globex")
    assert out.startswith("allowed")
    answer = json.loads(cli.ok("bob", "can", "bob", "manage-users-groups-roles", "membership:acme", "-o", "json"))
    assert answer["allowed"] and answer["role"] == "project-admin"


def test_a_project_admin_is_refused_another_organisations_users_without_a_word_about_it(cli: Cli) -> None:
    cli.login("bob")
    assert "alice" in cli.ok("bob", "user", "list")  # their own organisation's
    for args in (["user", "list", "--org", "globex"],
                 ["user", "create", "mallory", "--org", "globex", "--role", "engineer"],
                 ["user", "delete", "carol", "--org", "globex", "--yes"],
                 ["role", "grant", "carol", "workflow-admin", "--org", "globex"],
                 ["can", "carol", "submit-workflow", "workflow:globex/climate", "--org", "globex"],
                 ["org", "delete", "globex", "--yes"]):
        code, out, err = cli("bob", *args)
        assert code == REFUSED, (args, out, err)
        assert "Refused (403)" in err
        assert "globex" not in out + err and "carol" not in out + err
    carol = json.loads(cli.ok("dave", "user", "list", "--org", "globex", "-o", "json"))
    assert [(row["user"], row["roles"]) for row in carol] == [("carol", ["engineer"])]  # untouched


def test_the_realm_allows_the_device_login_and_logout_ends_the_session(
        cli: Cli, realm: tuple[KeycloakSettings, str]) -> None:
    settings, _ = realm
    device = _oidc.device_start(settings)
    assert device.user_code and device.verification_uri.startswith(settings.issuer)
    cli.login("carol")
    refresh = json.loads((cli.folder / "carol.json").read_text())["refresh_token"]
    assert "Logged out." in cli.ok("carol", "logout")
    with pytest.raises(_oidc.LoginError, match="invalid_grant"):
        _oidc.refresh(settings, refresh)
    code, _, err = cli("carol", "whoami")
    assert code == 3 and "not logged in" in err
