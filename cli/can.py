"""`heroes can USER ACTION RESOURCE`: explain a decision of the actions table.

The user's roles and projects are read from Keycloak (what their next token would carry),
the identity is built from them and :func:`~heroes_core.identity.authorize` decides, exactly
as for a request. The answer names the table and the cell behind it: a row of Table 1 (or
of its additions) per role the user holds, in the action's column.

Explaining someone else's rights reveals their roles, so it takes the right to administer
their organisation (as ``heroes user list`` does); anyone may ask about themselves.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import typer
from pydantic import BaseModel, Field, ValidationError

from heroes.cli import _session
from heroes.cli._output import FAILED, Output, console, exit_with_error, reported
from heroes_core.identity import (
    ADDITION_ACTIONS,
    ADDITION_REFERENCES,
    ADDITIONS,
    PERMISSIONS,
    TABLE_1,
    TABLE_1_ACTIONS,
    TABLE_1_REACH,
    Action,
    Identity,
    Resource,
    ResourceKind,
    Role,
    authorize,
)
from heroes_core.identity.naming import user_name

DENIED: Final = 1  # `can` answers "no" with a non-zero code, so scripts can branch on it
_RESOURCE = re.compile(r"(?P<kind>[a-z-]+):(?P<organisation>[^/\s]+)(?:/(?P<project>[^/\s]+))?")


def parse_resource(text: str, owner: str | None) -> Resource:
    """``KIND:ORGANISATION[/PROJECT]`` (and an owner) as a :class:`Resource`."""
    match = _RESOURCE.fullmatch(text)
    kinds = ", ".join(kind.value for kind in ResourceKind)
    if match is None or match["kind"] not in {kind.value for kind in ResourceKind}:
        raise typer.BadParameter(f"{text!r} is not KIND:ORGANISATION[/PROJECT] with KIND one of {kinds}",
                                 param_hint="RESOURCE")
    try:
        return Resource(kind=ResourceKind(match["kind"]), organisation=match["organisation"],
                        project=match["project"], owner=owner)
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="RESOURCE") from None


def table_cell(role: Role, action: Action) -> str:
    """The cell of the actions table that says what ``role`` may do of ``action``, in words."""
    if action in TABLE_1_ACTIONS:
        crossed = TABLE_1[role][TABLE_1_ACTIONS.index(action)]
        reach = f"cross, reach {TABLE_1_REACH[action].value}" if crossed else "empty"
        return f"Table 1, row {role.value}, column {action.value}: {reach}"
    granted = ADDITIONS[role][ADDITION_ACTIONS.index(action)]
    return (f"additions to Table 1, row {role.value}, column {action.value}: "
            f"{f'reach {granted.value}' if granted else 'empty'}")


class Explanation(BaseModel):
    """A decision with the cells behind it."""

    allowed: bool
    user: str
    organisation: str
    roles: list[str]
    projects: list[str]
    action: str
    reason: str
    role: str | None = Field(description="The role that grants the action, if allowed.")
    cells: list[str] = Field(description="The table's cell for each role the user holds.")
    roles_allowing: list[str] = Field(description="Every role whose cell in this column is not empty.")
    reference: str | None = Field(description="Where the design asks for an action Table 1 lacks.")


def explain(identity: Identity, action: Action, resource: Resource) -> Explanation:
    """``authorize``'s decision with the cells of the table behind it."""
    decision = authorize(identity, action, resource)
    held = [role for role in Role if role in identity.roles]
    return Explanation(allowed=decision.allowed, user=identity.user, organisation=identity.organisation,
                       roles=[role.value for role in held], projects=sorted(identity.projects),
                       action=action.value, reason=decision.reason,
                       role=decision.role.value if decision.role else None,
                       cells=[table_cell(role, action) for role in held],
                       roles_allowing=[role.value for role in Role if action in PERMISSIONS[role]],
                       reference=ADDITION_REFERENCES.get(action))


def can(
    user: Annotated[str, typer.Argument(help="Whose rights to explain.")],
    action: Annotated[Action, typer.Argument(help="The action (a column of the actions table).")],
    resource: Annotated[str, typer.Argument(help="KIND:ORGANISATION\\[/PROJECT], e.g. workflow:acme/climate, "
                                                 "billing:acme, membership:acme.")],
    owner: Annotated[str | None, typer.Option(help="The resource's owner (a home, a run).")] = None,
    org: Annotated[str | None, typer.Option("--org", help="USER's organisation (default: yours).")] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.TABLE,
) -> None:
    """Explain whether USER may do ACTION on RESOURCE, and which cell of the table decides it.

    Exits 0 when allowed, 1 when denied.
    """
    target = parse_resource(resource, owner)
    with reported():
        user_name(user)
        session = _session.current()
        me = session.identity
        if user == me.user and org in (None, me.organisation):
            organisation = me.organisation
        else:
            session, organisation = _session.administered(org)
        identity = session.admin().identity(organisation, user)
        if identity is None:
            exit_with_error(f"Organisation {organisation} has no user {user}.", FAILED)
    answer = explain(identity, action, target)
    if output is Output.JSON:
        console.print(answer.model_dump_json(indent=2), markup=False)
    else:
        where = f"{target.kind.value}:{target.organisation}"
        where += f"/{target.project}" if target.project else ""
        console.print("allowed" if answer.allowed else "denied", style="green" if answer.allowed else "red",
                      end="", markup=False)
        console.print(f": {user} ({organisation}) may{'' if answer.allowed else ' not'} {action.value} on "
                      f"{where}" + (f" owned by {owner}" if owner else ""), markup=False)
        console.print(f"why: {answer.reason}", markup=False)
        for cell in answer.cells or [f"{user} holds no HEROES role: every row is empty for them"]:
            console.print(f"  {cell}", markup=False)
        console.print(f"roles whose cell allows {action.value}: {', '.join(answer.roles_allowing)}",
                      markup=False)
        if answer.reference:
            console.print(f"(an addition to Table 1, from the design's {answer.reference})", markup=False)
    if not answer.allowed:
        raise typer.Exit(DENIED)
