"""`heroes run` against the test bed: the CLI launches run-job through a real gateway as its user.

The ``tenants`` realm (tests/integration/tenants.py) is named by a KeycloakRealm block saved
here for the module (deleted afterwards); alice logs in with `heroes login` (password on
standard input, credentials in a temporary folder), and `heroes run` sends her access token to
the gateway, served by uvicorn on a loopback port (``live_gateway``) in front of the test
bed's Prefect server, where a runner serves run-job (``module_runner``). The run it launches
is hers: her organisation, user and project, as the gateway's own listing shows; it runs to
completion. A project that is not hers is refused with exit 4, and a gateway that is not there
with exit 1, both without a traceback.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from heroes.cli._output import FAILED, REFUSED
from heroes.cli.run import GATEWAY_ENV
from tests.integration.cli_runner import Cli
from tests.integration.conftest import free_port
from tests.integration.grants import job

LAUNCHED = re.compile(r"Launched run-job/run-job as run (?P<name>\S+) \((?P<id>[0-9a-f-]{36})\)\.")


@pytest.fixture(scope="module")
def cli(tenants: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A KeycloakRealm block for ``tenants``' realm, and alice logged in to it with the CLI."""
    from heroes.blocks import KeycloakRealm

    block = f"itest-cli-run-{uuid.uuid4().hex[:8]}"
    KeycloakRealm(**tenants.settings.model_dump()).save(block)
    try:
        cli = Cli(tmp_path_factory.mktemp("heroes-config"), block)
        out = cli.login("alice", tenants.password("alice"))
        assert f"Logged in as alice of organisation {tenants.organisations['acme']}" in out
        yield cli
    finally:
        KeycloakRealm.delete(block)


@pytest.fixture(scope="module")
def launched(cli: Cli, live_gateway: str, image: dict[str, str], module_runner: Any) -> dict[str, str]:
    """`heroes run run-job/run-job` as alice in her project p1: its output, and the run's name and id."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    params = json.dumps(job(image, ["sh", "-c", "echo launched-by-heroes-run"]))
    code, out, err = cli("alice", "run", "run-job/run-job", "--params", params, "--project", "p1",
                         "--name", name, "--gateway", live_gateway)
    assert code == 0, out + err
    found = LAUNCHED.search(out)
    assert found is not None, out
    return {"out": out, "name": found["name"], "id": found["id"], "requested": name}


def test_heroes_run_launches_run_job_as_the_logged_in_user_in_her_project(
        launched: dict[str, str], live_gateway: str, gateway: Any, tenants: Any) -> None:
    assert launched["name"] == launched["requested"]
    assert f"Watch it: {live_gateway}/runs/flow-run/{launched['id']}" in launched["out"]
    runs = gateway.get("/v1/runs", headers=tenants.headers("alice")).json()
    run = next((run for run in runs if run["id"] == launched["id"]), None)
    assert run is not None, runs
    assert (run["name"], run["deployment"]) == (launched["requested"], "run-job/run-job")
    assert (run["organisation"], run["user"], run["project"]) == (tenants.organisations["acme"], "alice", "p1")
    theirs = gateway.get("/v1/runs", headers=tenants.headers("bob")).json()  # bob: another organisation
    assert launched["id"] not in {run["id"] for run in theirs}


def test_the_run_it_launched_runs_to_completion_under_her_identity(
        launched: dict[str, str], gateway: Any, tenants: Any) -> None:
    run = tenants.finished(gateway, "alice", launched["id"])
    assert run["state"] == "COMPLETED", run
    logs = gateway.get(f"/v1/runs/{launched['id']}/logs", headers=tenants.headers("alice")).json()
    assert any("Run admitted for user 'alice'" in line["message"] for line in logs), logs


def test_the_watch_url_is_a_page_of_the_gateway(launched: dict[str, str], live_gateway: str,
                                                tenants: Any) -> None:
    watch = f"{live_gateway}/runs/flow-run/{launched['id']}"
    anonymous = httpx.get(watch, headers={"accept": "text/html"}, follow_redirects=False, timeout=30)
    assert anonymous.status_code == 303, anonymous.text
    assert anonymous.headers["location"] == f"/login?next=%2Fruns%2Fflow-run%2F{launched['id']}"
    page = httpx.get(watch, headers={"accept": "text/html", **tenants.headers("alice")}, timeout=30)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")


def test_a_project_that_is_not_hers_is_refused_with_exit_4_and_nothing_runs(
        cli: Cli, live_gateway: str, gateway: Any, tenants: Any, image: dict[str, str],
        module_runner: Any) -> None:
    name = f"cli-refused-{uuid.uuid4().hex[:8]}"
    code, out, err = cli("alice", "run", "run-job/run-job", "--params", json.dumps(job(image, ["true"])),
                         "--project", "not-hers", "--name", name, env={GATEWAY_ENV: live_gateway})
    assert code == REFUSED, out + err
    assert "The gateway refused the run (403):" in err and "submit-workflow" in err and out == ""
    assert tenants.organisations["umbrella"] not in err
    runs = gateway.get("/v1/runs", headers=tenants.headers("alice")).json()
    assert name not in {run["name"] for run in runs}


def test_a_deployment_she_may_not_see_exits_1_with_the_gateways_404(cli: Cli, live_gateway: str) -> None:
    code, out, err = cli("alice", "run", "no-such-flow/nowhere", "--gateway", live_gateway)
    assert code == FAILED, out + err
    assert "The gateway refused the run (404): no workflow no-such-flow/nowhere that you may launch" in err


def test_a_gateway_that_is_not_there_exits_1_naming_it(cli: Cli) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err = cli("alice", "run", "run-job/run-job", "--gateway", nowhere)
    assert code == FAILED, out + err
    assert f"The gateway at {nowhere} could not be reached (ConnectError" in err
    assert f"check --gateway or ${GATEWAY_ENV}" in err
