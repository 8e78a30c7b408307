"""`heroes run`: launch a workflow through the gateway, as the logged-in user."""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import typer

from heroes.cli._output import FAILED, NOT_AUTHENTICATED, REFUSED, console, done, exit_with_error
from heroes.cli._remote import logged_in
from heroes.client import GATEWAY_ENV, ApiError, HeroesClient, RunTimeoutError, RunView, split_deployment
from heroes.gateway import DEFAULT_PORT


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
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to end (or pause for an answer) "
                                                      "and print its state; exit 1 unless it completed.")]
    = False,
    timeout: Annotated[float, typer.Option(help="With --wait: give up waiting after this many seconds (the "
                                                "run goes on).", min=1)] = 3600,
) -> None:
    """Launch a workflow through the HEROES gateway; prints the run's id and where to watch it."""
    try:
        split_deployment(deployment)
    except ValueError as error:
        exit_with_error(str(error), FAILED)
    parameters = _parameters(params, param or [])
    try:
        json.dumps(parameters, allow_nan=False)
    except ValueError:
        exit_with_error("Parameters must be finite numbers: NaN, Infinity and numbers too large for JSON are "
                        "refused.", FAILED)
    url, token = logged_in(gateway)
    with HeroesClient(url, token) as client:
        try:
            launched = client.runs.launch(deployment, parameters, project=project, name=name)
        except ApiError as error:
            _refused(error, url)
        done(f"Launched {deployment} as run {launched.name} ({launched.id}).")
        console.print(f"Watch it: {url}/runs/flow-run/{launched.id}", markup=False)
        if wait:
            _wait(client, launched, url, timeout)


def _wait(client: HeroesClient, launched: RunView, url: str, timeout: float) -> None:
    """Follow the run to its end; exit 1 unless it completed."""
    try:
        final = client.runs.wait(launched, timeout_s=timeout)
    except RunTimeoutError as error:
        seen = error.run or launched
        exit_with_error(f"Run {seen.name} is still {seen.state_name or seen.state} after {timeout:g} s; it "
                        f"goes on. Watch it: {url}/runs/flow-run/{seen.id}", FAILED)
    except ApiError as error:
        _refused(error, url, "reading the run")
    if final.completed:
        done(f"Run {final.name} completed.")
    elif final.paused:
        exit_with_error(f"Run {final.name} is paused ({final.state_name}): it waits for an answer. Fix: "
                        f"answer it at {url}/runs/flow-run/{final.id}", FAILED)
    else:
        exit_with_error(f"Run {final.name} ended {final.state_name or final.state}. Its logs: "
                        f"{url}/runs/flow-run/{final.id}", FAILED)


def _refused(error: ApiError, url: str, doing: str = "the run") -> NoReturn:
    """The gateway's refusal as the CLI's message and exit code."""
    if error.status == 0:
        exit_with_error(f"{_sentence(error.detail)}. Fix: check --gateway or ${GATEWAY_ENV}, and that "
                        "`heroes gateway` runs there.", FAILED)
    if 200 <= error.status < 300:
        exit_with_error(_sentence(error.detail), FAILED)
    code = {401: NOT_AUTHENTICATED, 403: REFUSED}.get(error.status, FAILED)
    fix = " Fix: log in again (heroes login)." if code == NOT_AUTHENTICATED else ""
    exit_with_error(f"The gateway refused {doing} ({error.status}): {error.detail}{fix}", code)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = ["GATEWAY_ENV", "run"]
