"""`heroes app`: register applications, push their images as versions, read the catalogue.

``push`` sends the image straight to the archive (presigned, multipart, resumable); the
gateway reads the stored bytes back and adds the version only if they hash to the image's
sha256. A version is never replaced: a new image is a new version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from heroes.cli._output import Output, console, done, exit_with_error, listing
from heroes.cli._remote import GatewayOption, gateway_client, progress_bar

app = typer.Typer(name="app", help="Applications: register, push images, list, show.", no_args_is_help=True)


@app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="The application's name (unique in HEROES).")],
    schema: Annotated[Path, typer.Option(help="Its parameters' JSON Schema (draft 2020-12), a file.",
                                         exists=True, dir_okay=False)],
    command: Annotated[str, typer.Option(help='The argv a run starts, as JSON: \'["solver", "--steps", '
                                              '"{steps}"]\' ({name} stands for a parameter).')] = "[]",
    description: Annotated[str, typer.Option(help="What it does.")] = "",
    gateway: GatewayOption = None,
) -> None:
    """Register an application of your organisation (packagers, application providers)."""
    try:
        parameter_schema = json.loads(schema.read_text())
        argv = json.loads(command)
    except ValueError as error:
        exit_with_error(f"--schema or --command is not JSON: {error}")
    if not isinstance(argv, list):
        exit_with_error('--command must be a JSON list, e.g. \'["solver", "{steps}"]\'')
    with gateway_client(gateway) as client:
        made = client.apps.register(name, parameter_schema=parameter_schema, command=argv,
                                    description=description)
    done(f"Registered application {made.name} of {made.organisation}.")


@app.command("push")
def push(
    name: Annotated[str, typer.Argument(help="The application.")],
    version: Annotated[str, typer.Argument(help="The new version (never reused).")],
    image: Annotated[Path, typer.Argument(help="The image file.", exists=True, dir_okay=False)],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag to point at it (repeatable).")]
    = None,
    gateway: GatewayOption = None,
) -> None:
    """Push an image as a new version (run again to resume a cut push)."""
    with gateway_client(gateway) as client, progress_bar() as bar:
        task = bar.add_task(f"push {image.name}", total=image.stat().st_size)
        made = client.apps.push(name, version, image, tags=tag or (),
                                progress=lambda sent, total: bar.update(task, completed=sent))
    done(f"{made.name} {made.version} is image {made.digest} ({made.size_bytes} bytes, digest verified).")


@app.command("ls")
def ls(gateway: GatewayOption = None,
       output: Annotated[Output, typer.Option(help="table or json.")] = Output.TABLE) -> None:
    """Applications you may see: your organisation's and those published to you."""
    with gateway_client(gateway) as client:
        rows = [{"name": a.name, "organisation": a.organisation, "description": a.description,
                 "versions": [f"{v.version}{' (' + ', '.join(v.tags) + ')' if v.tags else ''}"
                              for v in a.versions]} for a in client.apps.ls()]
    listing(rows, output, title="Applications", columns=["name", "organisation", "versions", "description"],
            empty="No applications.")


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="The application.")],
         version: Annotated[str, typer.Argument(help="A version or a tag.")],
         gateway: GatewayOption = None) -> None:
    """One version: its image, tags, functional test and publications (JSON)."""
    with gateway_client(gateway) as client:
        found = client.apps.show(name, version)
    console.print(found.model_dump_json(indent=2), markup=False)


__all__ = ["app"]
