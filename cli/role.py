"""`heroes role grant|revoke|list`: the actions table's roles, given to and taken from users."""

from __future__ import annotations

from typing import Annotated

import typer

from heroes.cli import _session
from heroes.cli._output import Output, changes, exit_with_error, listing, reported
from heroes_core.identity import PERMISSIONS, PLATFORM_ROLES, Role
from heroes_core.identity.naming import user_name

app = typer.Typer(name="role", help="Grant, revoke and list HEROES roles.", no_args_is_help=True)

USER = Annotated[str, typer.Argument(help="The user name.")]
ROLE = Annotated[Role, typer.Argument(help="The role.")]
ORG = Annotated[str | None, typer.Option("--org", help="The user's organisation (default: yours).")]


def _set(user: str, role: Role, org: str | None, grant: bool) -> None:
    with reported():
        user_name(user)
        session, organisation = _session.administered(org)
        admin = session.admin()
        record = admin.user(organisation, user)
        if record is None:
            exit_with_error(f"Organisation {organisation} has no user {user}.")
        roles = record.roles | {role} if grant else record.roles - {role}
        made = admin.ensure_user(organisation, user, roles=roles, projects=record.projects,
                                 enabled=record.enabled)
    verb = "has" if grant else "does not have"
    changes(made, f"{user} already {verb} role {role.value}.")


@app.command("grant")
def grant(user: USER, role: ROLE, org: ORG = None) -> None:
    """Give a user a role (platform roles only in the HEROES organisation)."""
    _set(user, role, org, grant=True)


@app.command("revoke")
def revoke(user: USER, role: ROLE, org: ORG = None) -> None:
    """Take a role from a user."""
    _set(user, role, org, grant=False)


@app.command("ls", hidden=True)
@app.command("list")
def list_(output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.TABLE,
          ) -> None:
    """List the roles and the actions each allows (the actions table; no login needed)."""
    rows = [{"role": role.value,
             "held_in": "HEROES organisation" if role in PLATFORM_ROLES else "any organisation",
             "allows": [f"{action.value} ({reach.value})" for action, reach in PERMISSIONS[role].items()]}
            for role in Role]
    listing(rows, output, title="HEROES roles", columns=("role", "held_in", "allows"), empty="No roles.")
