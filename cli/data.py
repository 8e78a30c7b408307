"""`heroes data`: your files in the archive (put, get, ls, rm, mv), through the gateway.

Paths are written by area: ``home/...`` for your own files, ``projects/<project>/...`` for a
project's shared files. Bytes go straight between this machine and the archive through
short-lived presigned URLs; the gateway checks who you are, your areas and your quotas.
``put`` and ``get`` resume where a cut left them: run the same command again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from heroes.cli._output import Output, done, listing
from heroes.cli._remote import GatewayOption, gateway_client, progress_bar

app = typer.Typer(name="data", help="Your files in the archive: put, get, ls, rm, mv.", no_args_is_help=True)


@app.command("ls")
def ls(path: Annotated[str, typer.Argument(help="home/..., projects/<project>/...; a folder ends in /.")]
       = "home/", gateway: GatewayOption = None,
       output: Annotated[Output, typer.Option(help="table or json.")] = Output.TABLE) -> None:
    """List files at or below a path."""
    with gateway_client(gateway) as client:
        rows = [{"path": item.path, "size": item.size,
                 "modified": item.modified.isoformat(timespec="seconds") if item.modified else ""}
                for item in client.data.ls(path)]
    listing(rows, output, title=f"Files in {path}", columns=["path", "size", "modified"],
            empty=f"No files in {path}.")


@app.command("areas")
def areas(gateway: GatewayOption = None,
          output: Annotated[Output, typer.Option(help="table or json.")] = Output.TABLE) -> None:
    """Your areas (home, your projects'), what each holds, and the quotas that cover it."""
    with gateway_client(gateway) as client:
        rows = [{"path": area["path"], "used_bytes": area["used_bytes"],
                 "quotas": [f"{q['scope']} {q['name'] or q['organisation']}: {q['limit_bytes']}"
                            for q in area["quotas"]]} for area in client.data.areas()]
    listing(rows, output, title="Your areas", columns=["path", "used_bytes", "quotas"], empty="No areas.")


@app.command("put")
def put(local: Annotated[Path, typer.Argument(help="The file to upload.", exists=True, dir_okay=False)],
        path: Annotated[str, typer.Argument(help="Where: home/<name> or projects/<project>/<name>; "
                                                 "ending in / keeps the file's name.")],
        gateway: GatewayOption = None) -> None:
    """Upload a file (multipart, checksummed; run again to resume a cut upload)."""
    target = path + local.name if path.endswith("/") else path
    with gateway_client(gateway) as client, progress_bar() as bar:
        task = bar.add_task(f"put {local.name}", total=local.stat().st_size)
        stored = client.data.put(local, target, progress=lambda sent, total: bar.update(task, completed=sent))
    done(f"Uploaded {local} to {stored.path} ({stored.size} bytes, sha256 {stored.sha256}).")


@app.command("get")
def get(path: Annotated[str, typer.Argument(help="The file: home/... or projects/<project>/....")],
        local: Annotated[Path, typer.Argument(help="Where to write it (a folder keeps its name).")]
        = Path("."), gateway: GatewayOption = None) -> None:
    """Download a file (checksum verified; run again to resume a cut download)."""
    with gateway_client(gateway) as client, progress_bar() as bar:
        task = bar.add_task(f"get {path}", total=None)
        written = client.data.get(path, local,
                                  progress=lambda got, total: bar.update(task, completed=got, total=total))
    done(f"Downloaded {path} to {written} (checksum verified).")


@app.command("rm")
def rm(path: Annotated[str, typer.Argument(help="A file, or a folder ending in / (all below it).")],
       gateway: GatewayOption = None) -> None:
    """Delete a file, or a folder and everything in it."""
    with gateway_client(gateway) as client:
        deleted = client.data.rm(path)
    done(f"Deleted {len(deleted)} file(s) under {path}.")


@app.command("mv")
def mv(source: Annotated[str, typer.Argument(help="A file, or a folder ending in /.")],
       destination: Annotated[str, typer.Argument(help="Its new place (a folder ends in /).")],
       gateway: GatewayOption = None) -> None:
    """Move a file or folder, within or across your areas."""
    with gateway_client(gateway) as client:
        moved = client.data.mv(source, destination)
    done(f"Moved {len(moved)} file(s) from {source} to {destination}.")


__all__ = ["app"]
