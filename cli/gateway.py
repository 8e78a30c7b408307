"""`heroes gateway`: serve the HEROES gateway (API, browser login, Prefect UI) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from prefect.blocks.system import Secret
from prefect.settings import PREFECT_API_URL

from heroes.blocks import CentralArchive, HeroesDatabase
from heroes.blocks.defaults import (
    DEFAULT_ARCHIVE,
    DEFAULT_DATABASE,
    DEFAULT_GRANT_KEY,
    DEFAULT_KEYCLOAK_REALM,
)
from heroes.blocks.log_sink import configure_logging
from heroes.cli._output import exit_with_error, reported
from heroes.cli._session import load_realm
from heroes.gateway import DEFAULT_PORT, GatewaySettings, create_app, serve
from heroes_core.catalog import ApplicationCatalogue
from heroes_core.catalog.service import ApplicationService
from heroes_core.data import DataService, Quotas
from heroes_core.logs import register_secrets_of


def gateway(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    public_url: Annotated[str | None, typer.Option(
        help="Where browsers reach the gateway (behind a TLS proxy: its https URL); default "
             "http://HOST:PORT.")] = None,
    realm_block: Annotated[str, typer.Option(help="The KeycloakRealm block whose tokens are accepted.")]
        = DEFAULT_KEYCLOAK_REALM,
    grant_key_block: Annotated[str, typer.Option(help="The Secret block holding the grant key.")]
        = DEFAULT_GRANT_KEY,
    archive_block: Annotated[str, typer.Option(help="The CentralArchive block users' files live in.")]
        = DEFAULT_ARCHIVE,
    database_block: Annotated[str, typer.Option(help="The HeroesDatabase block holding quotas and the "
                                                     "application catalogue.")]
        = DEFAULT_DATABASE,
) -> None:
    """Serve the HEROES gateway in front of the Prefect API that PREFECT_API_URL names."""
    api_url = PREFECT_API_URL.value()
    if not api_url:
        exit_with_error("PREFECT_API_URL is not set: the gateway fronts a Prefect server. Fix: export "
                        "PREFECT_API_URL=http://<prefect server>:4200/api.")
    realm = load_realm(realm_block)
    with reported():
        try:
            grant_key = str(Secret.load(grant_key_block).get())  # type: ignore[union-attr]
        except ValueError:
            exit_with_error(f"No Secret block named '{grant_key_block}' holds the grant key. Fix: create it "
                            "with a random key of 32 bytes or more (the README, 'The gateway').")
        settings = GatewaySettings(prefect_api_url=api_url, public_url=public_url or f"http://{host}:{port}")
        try:
            archive: CentralArchive = CentralArchive.load(archive_block)  # type: ignore[assignment]
            database: HeroesDatabase = HeroesDatabase.load(database_block)  # type: ignore[assignment]
        except ValueError as error:
            exit_with_error(f"{error}. Fix: register the archive and database blocks (the README, "
                            "'Register a real centre'), or name them with --archive-block/--database-block.")
        for block in (archive, database):  # no log record of the gateway shows their secrets
            register_secrets_of(block)
        data = DataService(archive.archive(), Quotas(database.database()))
        apps = ApplicationService(ApplicationCatalogue(database.database()), data.archive, data)
        app = create_app(settings, keycloak=realm.settings(), verifier=realm.verifier(), grant_key=grant_key,
                         data=data, apps=apps)
    configure_logging()  # HEROES_LOG_FORMAT=ecs / HEROES_LOG_SINK, as in every HEROES process
    serve(app, host=host, port=port)


__all__ = ["gateway"]
