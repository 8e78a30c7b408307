"""heroes login / logout / whoami: tokens from the realm's client, kept 0600, renewed, verified offline."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from heroes.cli import app
from heroes.cli._output import FAILED, NOT_AUTHENTICATED
from heroes.cli._session import DEFAULT_REALM_BLOCK

from .conftest import World


def login(world: World, user: str, password: str, *more: str) -> None:
    result = world.runner.invoke(app, ["login", "--user", user, "--password-stdin", *more], input=password + "\n")
    assert result.exit_code == 0, result.output


def test_login_keeps_the_tokens_readable_by_the_owner_only_and_whoami_reads_them(world: World) -> None:
    result = world.runner.invoke(app, ["login", "-u", "alice", "--password-stdin"], input="alice-pw\n")
    assert result.exit_code == 0, result.output
    assert "Logged in as alice of organisation acme" in result.stdout
    assert world.realm.loaded_as == [DEFAULT_REALM_BLOCK]
    assert stat.S_IMODE(world.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(world.credentials.parent.stat().st_mode) == 0o700
    stored = json.loads(world.credentials.read_text())
    assert stored["realm_block"] == DEFAULT_REALM_BLOCK and stored["refresh_token"]
    assert "alice-pw" not in world.credentials.read_text()

    whoami = world.runner.invoke(app, ["whoami"])
    assert whoami.exit_code == 0, whoami.output
    lines = dict(line.split(None, 1) for line in whoami.stdout.splitlines())
    assert lines == {"organisation": "acme", "user": "alice", "roles": "engineer", "projects": "climate"}
    as_json = json.loads(world.runner.invoke(app, ["whoami", "-o", "json"]).stdout)
    assert as_json["roles"] == ["engineer"] and as_json["projects"] == ["climate"]


def test_the_password_may_come_from_the_environment_and_the_block_from_an_option(world: World) -> None:
    result = world.runner.invoke(app, ["login", "-u", "bob", "--realm-block", "other-realm"],
                                 env={"HEROES_PASSWORD": "bob-pw"})
    assert result.exit_code == 0, result.output
    assert world.realm.loaded_as == ["other-realm"]
    assert json.loads(world.credentials.read_text())["realm_block"] == "other-realm"


def test_a_wrong_password_is_refused_with_keycloaks_reason_and_nothing_is_stored(world: World) -> None:
    result = world.runner.invoke(app, ["login", "-u", "alice", "--password-stdin"], input="not-it\n")
    assert result.exit_code == FAILED
    assert "invalid_grant" in result.stderr and "not-it" not in result.output
    assert not world.credentials.exists()


def test_the_device_login_shows_a_code_and_waits_for_the_browser(world: World) -> None:
    result = world.runner.invoke(app, ["login"])
    assert result.exit_code == 0, result.output
    assert "http://kc.test/device?code=ABCD-EFGH" in result.stdout and "ABCD-EFGH" in result.stdout
    assert world.keycloak.device_polls == 2  # one "authorization_pending", then the tokens
    assert "Logged in as alice" in result.stdout


def test_commands_need_a_login(world: World) -> None:
    for args in (["whoami"], ["org", "list"], ["user", "list"], ["can", "alice", "billing-and-costs",
                                                                  "billing:acme"]):
        result = world.runner.invoke(app, args)
        assert result.exit_code == NOT_AUTHENTICATED, args
        assert "not logged in" in result.stderr and "heroes login" in result.stderr


def test_credentials_others_can_read_are_not_used(world: World) -> None:
    login(world, "alice", "alice-pw")
    world.credentials.chmod(0o644)
    result = world.runner.invoke(app, ["whoami"])
    assert result.exit_code == NOT_AUTHENTICATED
    assert "chmod 600" in result.stderr
    world.credentials.write_text("{not json")
    world.credentials.chmod(0o600)
    assert world.runner.invoke(app, ["whoami"]).exit_code == NOT_AUTHENTICATED


def test_an_expired_access_token_is_renewed_with_the_refresh_token_and_stored(world: World) -> None:
    login(world, "alice", "alice-pw")
    stored = json.loads(world.credentials.read_text())
    stored["expires_at"] = time.time() - 1
    world.credentials.write_text(json.dumps(stored))
    result = world.runner.invoke(app, ["whoami"])
    assert result.exit_code == 0, result.output
    assert world.keycloak.grants == ["password", "refresh_token"]
    renewed = json.loads(world.credentials.read_text())
    assert renewed["refresh_token"] != stored["refresh_token"] and renewed["expires_at"] > time.time()
    assert stat.S_IMODE(world.credentials.stat().st_mode) == 0o600


def test_an_ended_session_asks_to_log_in_again(world: World) -> None:
    login(world, "alice", "alice-pw")
    stored = json.loads(world.credentials.read_text())
    world.keycloak.sessions.clear()  # Keycloak ended the session
    stored["expires_at"] = time.time() - 1
    world.credentials.write_text(json.dumps(stored))
    result = world.runner.invoke(app, ["whoami"])
    assert result.exit_code == NOT_AUTHENTICATED
    assert "could not be renewed" in result.stderr and "Session not active" in result.stderr


def test_a_token_that_does_not_verify_is_refused_as_a_401(world: World) -> None:
    login(world, "alice", "alice-pw")
    stored = json.loads(world.credentials.read_text())
    head, body, signature = stored["access_token"].split(".")
    stored["access_token"] = f"{head}.{body}.{signature[::-1]}"
    world.credentials.write_text(json.dumps(stored))
    result = world.runner.invoke(app, ["whoami"])
    assert result.exit_code == NOT_AUTHENTICATED
    assert "401" in result.stderr


def test_logout_ends_the_session_and_forgets_the_tokens(world: World) -> None:
    login(world, "alice", "alice-pw")
    result = world.runner.invoke(app, ["logout"])
    assert result.exit_code == 0 and "Logged out." in result.stdout
    assert world.keycloak.logged_out == ["alice"] and not world.credentials.exists()
    again = world.runner.invoke(app, ["logout"])
    assert again.exit_code == 0 and "not logged in" in again.stdout


@pytest.mark.parametrize(("raised", "words"), [
    (ValueError("Unable to find block document named nope"), "No KeycloakRealm block named 'nope'"),
    (httpx.ConnectError("Connection refused"), "check PREFECT_API_URL"),
])
def test_a_missing_block_or_an_unreachable_prefect_server_is_said_plainly(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raised: Exception, words: str) -> None:
    from heroes.blocks import KeycloakRealm

    def load(name: str) -> None:
        raise raised

    monkeypatch.setattr(KeycloakRealm, "load", load)
    monkeypatch.setenv("HEROES_CREDENTIALS", str(tmp_path / "credentials.json"))
    result = CliRunner().invoke(app, ["login", "--realm-block", "nope", "-u", "alice", "--password-stdin"],
                                input="pw\n")
    assert result.exit_code == FAILED and words in result.stderr
    assert "Traceback" not in result.output
