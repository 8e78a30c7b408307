"""`heroes run`: launch a workflow through the gateway, as the logged-in user."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Final

import httpx
import typer

from heroes.cli import _session
from heroes.cli._output import FAILED, NOT_AUTHENTICATED, REFUSED, console, done, exit_with_error, reported
from heroes.gateway import DEFAULT_PORT

GATEWAY_ENV: Final = "HEROES_GATEWAY_URL"


def _parameters(params: str | None, param: list[str]) -> dict[str, Any]:
    """``--params`` (a JSON object) with each ``--param key=value`` on top (value as JSON, else text)."""
    try:
        merged = json.loads(params) if params else {}
    except ValueError as error:
        exit_with_error(f"--params is not JSON ({error}). Fix: --params '{{\"key\": \"value\"}}'.", FAILED)
    if not isinstance(merged, dict):
        exit_with_error("--params must be a JSON object.", FAILED)
    for item in param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            exit_with_error(f"--param {item!r} is not key=value.", FAILED)
        try:
            merged[key] = json.loads(value)
        except ValueError:
            merged[key] = value
    return merged


def run(
    deployment: Annotated[str, typer.Argument(help="flow/deployment, e.g. run-job/run-job.")],
    params: Annotated[str | None, typer.Option(help="Parameters as a JSON object.")] = None,
    param: Annotated[list[str] | None, typer.Option(help="One parameter, key=value (value read as JSON if "
                                                         "it parses). Repeat.")] = None,
    project: Annotated[str | None, typer.Option(help="One of your projects to run in.")] = None,
    name: Annotated[str | None, typer.Option(help="A name for the run.")] = None,
    gateway: Annotated[str | None, typer.Option(help=f"The gateway's URL (default ${GATEWAY_ENV}, else "
                                                     f"http://127.0.0.1:{DEFAULT_PORT}).")] = None,
) -> None:
    """Launch a workflow through the HEROES gateway; prints the run's id and where to watch it."""
    flow, sep, deployment_name = deployment.partition("/")
    if not sep or not flow or not deployment_name:
        exit_with_error(f"{deployment!r} is not flow/deployment (e.g. run-job/run-job).", FAILED)
    body = {"parameters": _parameters(params, param or []), "project": project, "name": name}
    url = (gateway or os.environ.get(GATEWAY_ENV) or f"http://127.0.0.1:{DEFAULT_PORT}").rstrip("/")
    with reported():
        session = _session.current()
    try:
        response = httpx.post(f"{url}/v1/deployments/{flow}/{deployment_name}/runs", json=body, timeout=60,
                              headers={"Authorization": f"Bearer {session.credentials.access_token}"})
    except httpx.HTTPError as error:
        exit_with_error(f"The gateway at {url} could not be reached ({type(error).__name__}: {error}). Fix: "
                        f"check --gateway or ${GATEWAY_ENV}, and that `heroes gateway` runs there.", FAILED)
    if response.status_code != 201:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        code = {401: NOT_AUTHENTICATED, 403: REFUSED}.get(response.status_code, FAILED)
        exit_with_error(f"The gateway refused the run ({response.status_code}): {detail}", code)
    created = response.json()
    done(f"Launched {deployment} as run {created['name']} ({created['id']}).")
    console.print(f"Watch it: {url}/runs/flow-run/{created['id']}", markup=False)


__all__ = ["GATEWAY_ENV", "run"]
