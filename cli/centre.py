"""`heroes centre connect|status|disconnect NAME`: the shared SSH connection to a centre.

For a centre whose block uses the 'openssh' backend, every process on the orchestrator host runs
its commands over one OpenSSH master connection. A login node that asks for a second factor
(``mfa`` in the block) cannot be logged into by a flow: an admin opens that connection here, at
a terminal, answering the prompts once, as the local user the Prefect workers run as (the
connection belongs to that user). No HEROES login is asked for: the command acts on this host
with the centre block's own credentials, which reading the block from the Prefect server
already requires.
"""

from __future__ import annotations

import os
from typing import Annotated

import httpx
import typer

from heroes.cli._output import FAILED, console, done, exit_with_error, reported
from heroes_core.sites import SiteConfig
from heroes_core.transport import SSHConfig, close_master, master_status, open_master

app = typer.Typer(name="centre", no_args_is_help=True,
                  help="The shared SSH connection to a centre (backend 'openssh', e.g. MFA login nodes).")

CENTRE = Annotated[str, typer.Argument(help="The centre's name (its HPCCentre block).")]


def load_centre(name: str) -> SiteConfig:
    """The centre block ``name`` from the Prefect server, as the core sees it."""
    from heroes.blocks import HPCCentre

    try:
        loaded = HPCCentre.load(name)
    except ValueError as error:
        exit_with_error(f"No HPCCentre block named '{name}' could be loaded ({error}). Fix: register the "
                        "centre (the README, 'HPC centres') or check its name in the Prefect UI.")
    except httpx.HTTPError as error:
        exit_with_error(f"The Prefect server, where the HPCCentre block '{name}' is kept, could not be "
                        f"reached ({type(error).__name__}: {error}). Fix: check PREFECT_API_URL "
                        f"({os.environ.get('PREFECT_API_URL') or 'not set'}) and that the server runs.")
    if not isinstance(loaded, HPCCentre):  # Block.load gives a coroutine only in async code
        exit_with_error(f"Block '{name}' is a {type(loaded).__name__}, not an HPCCentre.")
    return loaded.site_config()


def _openssh_config(name: str) -> SSHConfig:
    config = load_centre(name)
    if config.transport != "ssh" or config.backend != "openssh":
        exit_with_error(f"Centre '{name}' does not use the 'openssh' backend (it uses "
                        f"'{config.backend if config.transport == 'ssh' else config.transport}'), so its "
                        "processes share no connection to open. Fix: set backend to 'openssh' in its block "
                        "(and mfa if its login node asks for a second factor).")
    return config.ssh_config()


@app.command("connect")
def connect(
    name: CENTRE,
    batch: Annotated[bool, typer.Option(help="Open it without a terminal: the block's key only, no "
                                              "prompts (for centres without MFA).")] = False,
) -> None:
    """Open the centre's shared connection, answering its login prompts here (once per host)."""
    with reported():
        config = _openssh_config(name)
        status = open_master(config, interactive=not batch)
    persist = (f"until {config.control_persist_s} s pass with no command running"
               if config.control_persist_s else "until `heroes centre disconnect " + name + "`")
    done(f"Connected to {name} ({config.user}@{config.host}:{config.port}): master pid {status.pid}. "
         f"Flows on this host use it {persist}.")


@app.command("status")
def status(name: CENTRE) -> None:
    """Whether the centre's shared connection is open (exit 1 if not), and its master's pid."""
    with reported():
        found = master_status(_openssh_config(name))
    console.print(found.describe(), markup=False)
    if not found.open:
        raise typer.Exit(FAILED)


@app.command("disconnect")
def disconnect(name: CENTRE) -> None:
    """Close the centre's shared connection for every process on this host."""
    with reported():
        closed = close_master(_openssh_config(name))
    if closed:
        done(f"Closed the shared connection to {name}.")
    else:
        console.print(f"No shared connection to {name} was open.", markup=False)


__all__ = ["app", "load_centre"]
