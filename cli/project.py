"""`heroes project create|list|delete`: an organisation's projects (its administrators' to manage)."""

from __future__ import annotations

from typing import Annotated

import typer

from heroes.cli import _session
from heroes.cli._output import Output, changes, listing, reported
from heroes_core.data.areas import Area
from heroes_core.identity.naming import project_name

app = typer.Typer(name="project", help="Create, list and delete an organisation's projects.",
                  no_args_is_help=True)

PROJECT = Annotated[str, typer.Argument(help="The project's name.")]
ORG = Annotated[str | None, typer.Option("--org", help="The organisation (default: yours).")]


@app.command("create")
def create(project: PROJECT, org: ORG = None) -> None:
    """Create a project in an organisation."""
    with reported():
        project_name(project)
        session, organisation = _session.administered(org)
        made = session.admin().ensure_project(organisation, project)
        _session.load_archive().ensure_area(Area.project(organisation, project))
    changes(made, f"Project {organisation}/{project} already exists.")


@app.command("ls", hidden=True)
@app.command("list")
def list_(org: ORG = None,
          output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.TABLE,
          ) -> None:
    """List an organisation's projects."""
    with reported():
        session, organisation = _session.administered(org)
        names = session.admin().projects(organisation)
    listing([{"project": name, "organisation": organisation} for name in names], output,
            title=f"Projects of {organisation}", columns=("project", "organisation"),
            empty=f"Organisation {organisation} has no projects.")


@app.command("delete")
def delete(project: PROJECT, org: ORG = None,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
           ) -> None:
    """Delete a project (its members stay in the organisation)."""
    with reported():
        project_name(project)
        session, organisation = _session.administered(org)
        if not yes:
            typer.confirm(f"Delete project {organisation}/{project}?", abort=True)
        made = session.admin().delete_project(organisation, project)
    changes(made, f"There was no project {organisation}/{project}.")
