"""The `heroes` command: log in, see who you are, administer organisations, projects, users and roles.

One Typer app per noun (``heroes org ...``, ``heroes user ...``), as Prefect's own CLI
has; ``login``, ``logout``, ``whoami`` and ``can`` sit at the top. Every command that
changes Keycloak first checks the logged-in identity against the actions table
(:func:`~heroes_core.identity.require`), then acts through the KeycloakRealm block's
admin connection. Exit codes are in :mod:`heroes.cli._output`.
"""

from __future__ import annotations

import typer

from heroes.cli import app as app_noun
from heroes.cli import auth, can, centre, data, gateway, org, project, role, run, user

app = typer.Typer(name="heroes", help="HEROES: identity and access, launching workflows, your data, and the "
                                      "gateway.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False)
app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("can")(can.can)
app.command("run")(run.run)
app.command("gateway")(gateway.gateway)
for noun in (org, project, user, role, data, app_noun, centre):
    app.add_typer(noun.app)


def main() -> None:
    """The console script's entry point."""
    app()


__all__ = ["app", "main"]
