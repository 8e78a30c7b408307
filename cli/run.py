"""`heroes run`: launch a workflow through the gateway, as the logged-in user."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final

import httpx
import typer

from heroes.cli._output import FAILED, NOT_AUTHENTICATED, REFUSED, console, done, exit_with_error
from heroes.cli._remote import logged_in
from heroes.client import GATEWAY_ENV
from heroes.gateway import DEFAULT_PORT

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


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
    names = deployment.split("/")
    if len(names) != 2 or not all(_NAME.fullmatch(part) for part in names):
        exit_with_error(f"{deployment!r} is not flow/deployment (e.g. run-job/run-job): two names of "
                        "letters, digits and ._-", FAILED)
    body = {"parameters": _parameters(params, param or []), "project": project, "name": name}
    try:
        payload = json.dumps(body, allow_nan=False)
    except ValueError:
        exit_with_error("Parameters must be finite numbers: NaN, Infinity and numbers too large for JSON are "
                        "refused.", FAILED)
    url, token = logged_in(gateway)
    try:
        response = httpx.post(f"{url}/v1/deployments/{names[0]}/{names[1]}/runs", content=payload, timeout=60,
                              headers={"Authorization": f"Bearer {token}",
                                       "Content-Type": "application/json"})
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        exit_with_error(f"The gateway at {url} could not be reached ({type(error).__name__}: {error}). Fix: "
                        f"check --gateway or ${GATEWAY_ENV}, and that `heroes gateway` runs there.", FAILED)
    answer = _json(response)
    if response.status_code != 201:
        detail = answer["detail"] if isinstance(answer, dict) and "detail" in answer else response.text
        code = {401: NOT_AUTHENTICATED, 403: REFUSED}.get(response.status_code, FAILED)
        fix = " Fix: log in again (heroes login)." if code == NOT_AUTHENTICATED else ""
        exit_with_error(f"The gateway refused the run ({response.status_code}): {detail}{fix}", code)
    if not isinstance(answer, dict) or not {"id", "name"} <= answer.keys():
        exit_with_error(f"The gateway at {url} answered 201 without a run ({response.text[:200]!r}): is it a "
                        "HEROES gateway?", FAILED)
    done(f"Launched {deployment} as run {answer['name']} ({answer['id']}).")
    console.print(f"Watch it: {url}/runs/flow-run/{answer['id']}", markup=False)


def _json(response: httpx.Response) -> Any:
    """The answer's JSON, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text


__all__ = ["GATEWAY_ENV", "run"]
