"""The CLI's connection to the gateway, as the logged-in user: the gateway's refusals become exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from heroes.cli import _session
from heroes.cli._output import FAILED, NOT_AUTHENTICATED, REFUSED, console, exit_with_error, reported
from heroes.client import GATEWAY_ENV, ApiError, HeroesClient, gateway_url

GatewayOption = Annotated[str | None, typer.Option(
    "--gateway", help=f"The gateway's URL (default ${GATEWAY_ENV}, else http://127.0.0.1:4300).")]


def logged_in(gateway: str | None) -> tuple[str, str]:
    """The gateway's URL (checked) and the logged-in user's access token, or exit saying why."""
    try:
        url = gateway_url(gateway)
    except ValueError as error:
        exit_with_error(f"{error}. Fix: --gateway http://host:port", FAILED)
    with reported():
        session = _session.current()
    return url, session.credentials.access_token


@contextmanager
def gateway_client(gateway: str | None) -> Iterator[HeroesClient]:
    """A client for the logged-in user; the gateway's refusals become exit codes."""
    connection = HeroesClient(*logged_in(gateway))
    try:
        yield connection
    except ApiError as error:
        code = {401: NOT_AUTHENTICATED, 403: REFUSED}.get(error.status, FAILED)
        fix = " Fix: log in again (heroes login)." if code == NOT_AUTHENTICATED else ""
        exit_with_error(f"{error}{fix}", code)
    except OSError as error:
        exit_with_error(str(error), FAILED)
    finally:
        connection.close()


def progress_bar() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True)


__all__ = ["GatewayOption", "gateway_client", "logged_in", "progress_bar"]
