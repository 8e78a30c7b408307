"""`heroes org create|list|delete|energy-policy|decision-policy`: organisations, the platform's to
manage (manage-organisations); their EAR energy policy and decision policy, their workflow admins'
(manage-workflows)."""

from __future__ import annotations

from typing import Annotated

import typer

from heroes.cli import _session
from heroes.cli._output import Output, changes, console, exit_with_error, listing, reported
from heroes_core.decision.policy import ANY_WORKFLOW, DecisionPolicies, DecisionPolicy
from heroes_core.energy.policy import EnergyPolicies, EnergyPolicySetting
from heroes_core.errors import SpecError
from heroes_core.identity import HEROES_ORGANISATION, Action, Resource, ResourceKind, require
from heroes_core.identity.naming import organisation_name

app = typer.Typer(name="org", help="Create, list and delete organisations (HEROES platform admins).",
                  no_args_is_help=True)

ORGANISATION = Annotated[str, typer.Argument(help="The organisation's name (its Keycloak alias).")]


def _workflow_admin(organisation: str) -> _session.Session:
    """The session of a workflow admin of ``organisation`` (its policies are theirs to set)."""
    organisation_name(organisation)
    session = _session.current()
    require(session.identity, Action.MANAGE_WORKFLOWS,
            Resource(kind=ResourceKind.WORKFLOW, organisation=organisation))
    return session


def _platform(session: _session.Session, organisation: str) -> None:
    require(session.identity, Action.MANAGE_ORGANISATIONS,
            Resource(kind=ResourceKind.ORGANISATION, organisation=organisation))


@app.command("create")
def create(
    organisation: ORGANISATION,
    display_name: Annotated[str | None, typer.Option(help="A longer name shown by Keycloak.")] = None,
    domain: Annotated[list[str] | None, typer.Option(help="An e-mail domain of its members (repeatable).")]
    = None,
) -> None:
    """Create an organisation (or bring an existing one to these settings)."""
    with reported():
        organisation_name(organisation)
        session = _session.current()
        _platform(session, organisation)
        made = session.admin().ensure_organisation(organisation, display_name=display_name,
                                                   domains=domain or ())
        bucket = _session.load_archive().ensure_bucket(organisation)
    changes(made, f"Organisation {organisation} is already as asked.")
    console.print(f"Its archive bucket: {bucket}", markup=False)


@app.command("ls", hidden=True)
@app.command("list")
def list_(output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.TABLE,
          ) -> None:
    """List the organisations."""
    with reported():
        session = _session.current()
        _platform(session, session.identity.organisation)
        names = session.admin().organisations()
    listing([{"organisation": name, "platform": name == HEROES_ORGANISATION} for name in names], output,
            title="Organisations", columns=("organisation", "platform"), empty="No organisations.")


@app.command("delete")
def delete(
    organisation: ORGANISATION,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an organisation with its members, service accounts and projects."""
    with reported():
        organisation_name(organisation)
        session = _session.current()
        _platform(session, organisation)
        if organisation == HEROES_ORGANISATION:
            exit_with_error(f"'{HEROES_ORGANISATION}' is the HEROES organisation, which holds the platform's "
                            "administrators: it is not deleted from the CLI.")
        if not yes:
            typer.confirm(f"Delete organisation {organisation}, its members and its projects?", abort=True)
        made = session.admin().delete_organisation(organisation)
    changes(made, f"There was no organisation {organisation}.")


@app.command("energy-policy")
def energy_policy(
    organisation: ORGANISATION,
    default: Annotated[str | None, typer.Option(
        help="The EAR policy every job gets on EAR centres (e.g. min_energy); else the centre's.")] = None,
    users_may_choose: Annotated[bool, typer.Option(help="Let users name their own policy per job (experts).")]
    = False,
) -> None:
    """Set the organisation's EAR energy policy: a default for its jobs, and whether users may choose."""
    with reported():
        session = _workflow_admin(organisation)
        setting = EnergyPolicySetting(organisation=organisation, default_policy=default,
                                      users_may_choose=users_may_choose)
        EnergyPolicies(_session.load_database()).set(setting, actor=session.identity.user)
    console.print(f"Jobs of {organisation} on EAR centres run under "
                  f"{default or 'the centre default policy'}; users "
                  f"{'may' if users_may_choose else 'may not'} choose their own.", markup=False)


def _weights(pairs: list[str]) -> dict[str, float] | None:
    weights: dict[str, float] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            raise SpecError(f"weight {pair!r} is not NAME=NUMBER",
                            fix="e.g. --weight time=1 --weight energy=2") from None
    return weights or None


@app.command("decision-policy")
def decision_policy(
    organisation: ORGANISATION,
    workflow: Annotated[str, typer.Option(
        help="The workflow (by name) it governs; '*' for all.")] = ANY_WORKFLOW,
    allow: Annotated[list[str] | None, typer.Option(
        help="A centre or cloud cluster the workflows may use (repeatable); none: any.")] = None,
    strategy: Annotated[str, typer.Option(help="time, price, energy or weighted.")] = "time",
    weight: Annotated[list[str] | None, typer.Option(
        help="A weight of the weighted strategy, as time=1, cost=1 or energy=1 (repeatable).")] = None,
    energy_cap_kj: Annotated[float | None, typer.Option(
        help="Default energy cap of a workflow, in kJ.")] = None,
    users_may_change: Annotated[bool, typer.Option(
        help="Let users name their own strategy, weights or a looser energy cap.")] = True,
) -> None:
    """Set where the organisation's workflows may run and what the planner optimises for them."""
    with reported():
        session = _workflow_admin(organisation)
        policy = DecisionPolicy.model_validate({
            "organisation": organisation, "workflow": workflow, "strategy": strategy,
            "weights": _weights(weight or []), "energy_cap_kj": energy_cap_kj,
            "allowed_platforms": tuple(allow) if allow else None, "users_may_change": users_may_change})
        DecisionPolicies(_session.load_database()).set(policy, actor=session.identity.user)
    console.print(policy.describe().capitalize() + ".", markup=False)
