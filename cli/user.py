"""`heroes user create|list|delete`: an organisation's members, their roles and projects."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import SecretStr

from heroes.cli import _session
from heroes.cli._output import Output, changes, exit_with_error, listing, reported
from heroes_core.data.areas import Area
from heroes_core.identity import Role
from heroes_core.identity.naming import user_name

app = typer.Typer(name="user", help="Create, list and delete an organisation's users.", no_args_is_help=True)

USER = Annotated[str, typer.Argument(help="The user name (lower case, unique across HEROES).")]
ORG = Annotated[str | None, typer.Option("--org", help="The organisation (default: yours).")]


@app.command("create")
def create(
    user: USER,
    org: ORG = None,
    role: Annotated[list[Role] | None, typer.Option("--role", "-r", help="A role (repeatable).")] = None,
    project: Annotated[list[str] | None, typer.Option("--project", "-p", help="A project (repeatable).")]
    = None,
    email: Annotated[str | None, typer.Option(help="The user's e-mail address.")] = None,
    first_name: Annotated[str | None, typer.Option(help="The user's first name.")] = None,
    last_name: Annotated[str | None, typer.Option(help="The user's last name.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the user's first password from standard input; without it the "
                                 "user sets one at first login.")] = False,
    temporary: Annotated[bool, typer.Option(help="Make the user change that password at first login.")]
    = False,
) -> None:
    """Create a user, or make an existing one's roles and projects exactly these.

    Keycloak's default user profile asks for an e-mail address, a first and a last name: a
    user created without them is asked for them at their first login (in a browser), and
    cannot log in with a password alone until then.
    """
    with reported():
        user_name(user)
        password = None
        if password_stdin:
            password = SecretStr(sys.stdin.readline().rstrip("\r\n"))
            if not password.get_secret_value():
                exit_with_error("--password-stdin was given but standard input holds no password.")
        session, organisation = _session.administered(org)
        made = session.admin().ensure_user(organisation, user, roles=role or (), projects=project or (),
                                           email=email, first_name=first_name, last_name=last_name,
                                           password=password, temporary_password=temporary)
        _session.load_archive().ensure_area(Area.home(organisation, user))
    changes(made, f"User {user} of {organisation} is already as asked.")


@app.command("ls", hidden=True)
@app.command("list")
def list_(org: ORG = None,
          output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.TABLE,
          ) -> None:
    """List an organisation's users with their roles and projects."""
    with reported():
        session, organisation = _session.administered(org)
        records = session.admin().users(organisation)
    rows = [{"user": r.user, "roles": sorted(role.value for role in r.roles), "projects": sorted(r.projects),
             "enabled": r.enabled} for r in records]
    listing(rows, output, title=f"Users of {organisation}", columns=("user", "roles", "projects", "enabled"),
            empty=f"Organisation {organisation} has no users.")


@app.command("delete")
def delete(user: USER, org: ORG = None,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
           ) -> None:
    """Delete a user of an organisation."""
    with reported():
        user_name(user)
        session, organisation = _session.administered(org)
        if not yes:
            typer.confirm(f"Delete user {user} of {organisation}?", abort=True)
        made = session.admin().delete_user(organisation, user)
    changes(made, f"Organisation {organisation} has no user {user}.")
