"""`heroes login`, `heroes logout`, `heroes whoami`: who the CLI acts for."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Final

import typer

from heroes.cli import _session
from heroes.cli._output import Output, console, done, exit_with_error, reported
from heroes_core.identity import Identity, Role
from heroes_core.identity import oidc as _oidc

PASSWORD_ENV: Final = "HEROES_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def _password(user: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            exit_with_error("--password-stdin was given but standard input holds no password.")
        return password
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    password = typer.prompt(f"Password for {user}", hide_input=True)
    return str(password)


def _describe(identity: Identity) -> list[tuple[str, str]]:
    roles = [role.value for role in Role if role in identity.roles]
    return [("organisation", identity.organisation), ("user", identity.user),
            ("roles", ", ".join(roles) or "(none)"),
            ("projects", ", ".join(sorted(identity.projects)) or "(none)")]


def login(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Log in with this user's password "
                                             "(password grant); without it, log in through a browser "
                                             "(device authorization).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the "
                                                 f"first line of standard input (else ${PASSWORD_ENV}, "
                                                 "else a prompt).")] = False,
    realm_block: Annotated[str, typer.Option("--realm-block", envvar=_session.REALM_BLOCK_ENV,
                                             help="The KeycloakRealm block to log in through.")]
    = _session.DEFAULT_REALM_BLOCK,
) -> None:
    """Log in to HEROES; the tokens are kept for the other commands."""
    realm = _session.load_realm(realm_block)
    with reported():
        settings = realm.settings()
        if user is not None:
            tokens = _oidc.password_grant(settings, user, _password(user, password_stdin))
        else:
            device = _oidc.device_start(settings)
            console.print(f"Open {device.verification_uri_complete or device.verification_uri} in a "
                          f"browser and confirm the code [bold]{device.user_code}[/bold].")
            tokens = _oidc.device_wait(settings, device)
        with realm.verifier() as verifier:
            identity = verifier.identity(tokens.access_token)
        path = _session.save(_session.Credentials(realm_block=realm_block, issuer=settings.issuer,
                                                  **tokens.model_dump()))
    done(f"Logged in as {identity.user} of organisation {identity.organisation} "
         f"(credentials in {path}).")


def logout() -> None:
    """Forget the stored tokens and end the Keycloak session behind them."""
    credentials = _session.load()
    if credentials is None:
        console.print("You were not logged in.")
        return
    ended = False
    if credentials.refresh_token is not None:
        with reported():
            ended = _oidc.logout(_session.load_realm(credentials.realm_block).settings(),
                                 credentials.refresh_token)
    _session.forget()
    done("Logged out." if ended else "Logged out here (Keycloak could not be told; the session ends "
                                     "when it expires).")


def whoami(
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.TABLE,
) -> None:
    """Who the stored token proves you are: organisation, user, roles, projects."""
    with reported():
        session = _session.current()
    rows = _describe(session.identity)
    if output is Output.JSON:
        console.print(json.dumps(dict(rows) | {
            "roles": sorted(role.value for role in session.identity.roles),
            "projects": sorted(session.identity.projects)}, indent=2), markup=False)
        return
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        console.print(f"{key:<{width}}  {value}", markup=False)
