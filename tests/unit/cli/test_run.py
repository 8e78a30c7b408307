"""heroes run: parameters read from the command line, one POST to the gateway, its answer told plainly.

The user is logged in to the hermetic Keycloak of conftest.py (real tokens, verified offline);
the gateway is an ``httpx.MockTransport`` behind the SDK's ``HeroesClient`` the command uses, so the
request it builds (URL, JSON body, bearer token) is the one httpx would send, and its answers are
the gateway's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import heroes.cli.run as run_module
from heroes.cli import app
from heroes.cli._output import FAILED, NOT_AUTHENTICATED, REFUSED
from heroes.cli.run import GATEWAY_ENV
from heroes.client import HeroesClient
from heroes.gateway import DEFAULT_PORT

from .conftest import World
from .test_session import login

RUN_ID = "0b6c1d4e-3f2a-4c8b-9d7e-5a1f2e3d4c5b"
CREATED: dict[str, Any] = {
    "id": RUN_ID, "name": "brave-otter", "deployment": "run-job/run-job", "state": "SCHEDULED",
    "state_name": "Scheduled", "created": None, "start_time": None, "end_time": None,
    "organisation": "acme", "user": "alice", "project": "climate", "tags": []}


@dataclass
class FakeGateway:
    """Answers POSTs as the gateway would (201 with the run, unless told otherwise); keeps them.
    GETs of the run (``heroes run --wait``) answer the next of ``states``."""

    status: int = 201
    answer: Any = field(default_factory=lambda: CREATED)
    raw: bytes | None = None  # a body that is not JSON
    raises: Callable[[httpx.Request], Exception] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    timeouts: list[Any] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    polls: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.polls.append(request)
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return httpx.Response(200, json={**CREATED, "state": state, "state_name": state.title()})
        self.requests.append(request)
        if self.raises is not None:
            raise self.raises(request)
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw, headers={"content-type": "text/html"})
        return httpx.Response(self.status, json=self.answer)

    def client(self, url: str, token: str) -> HeroesClient:
        """The command's ``HeroesClient``, its requests sent to this gateway."""
        made = HeroesClient(url, token, transport=httpx.MockTransport(self.handle))
        self.timeouts.append(made.http.timeout.read)
        return made

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]

    def body(self) -> dict[str, Any]:
        sent: dict[str, Any] = json.loads(self.request.content)
        return sent


@pytest.fixture
def gateway(world: World, monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    fake = FakeGateway()
    monkeypatch.setattr(run_module, "HeroesClient", fake.client)
    monkeypatch.delenv(GATEWAY_ENV, raising=False)
    return fake


@pytest.fixture
def alice(world: World, gateway: FakeGateway) -> World:
    login(world, "alice", "alice-pw")
    return world


def heroes(world: World, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = world.runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


# --- parameters ------------------------------------------------------------------------------------


def test_params_and_param_are_merged_json_values_parsed_text_kept_and_param_wins(
        alice: World, gateway: FakeGateway) -> None:
    code, out, err = heroes(alice, "run", "run-job/run-job",
                            "--params", '{"spec": {"image": "x"}, "retries": 1, "mode": "fast"}',
                            "--param", "retries=3", "--param", "mode=slow", "--param", "expr=a=b",
                            "--param", "flags=[1, \"two\"]", "--param", "dry=true", "--param", "none=null",
                            "--param", "label=01", "--param", "empty=", "--param", 'quoted="7"')
    assert code == 0, out + err
    assert gateway.body()["parameters"] == {
        "spec": {"image": "x"},
        "retries": 3,                  # --param over --params, read as JSON
        "mode": "slow",                # not JSON: kept as text
        "expr": "a=b",                 # split at the first '=' only
        "flags": [1, "two"],
        "dry": True,
        "none": None,
        "label": "01",                 # not JSON (a leading zero): text, not the number 1
        "empty": "",
        "quoted": "7",                 # a JSON string stays a string
    }


def test_without_parameters_the_body_has_an_empty_object_and_no_project_or_name(
        alice: World, gateway: FakeGateway) -> None:
    assert heroes(alice, "run", "run-job/run-job")[0] == 0
    assert gateway.body() == {"parameters": {}, "project": None, "name": None}


def test_project_and_name_go_in_the_body(alice: World, gateway: FakeGateway) -> None:
    assert heroes(alice, "run", "run-job/run-job", "--project", "climate", "--name", "my-run",
                  "--param", "n=1")[0] == 0
    assert gateway.body() == {"parameters": {"n": 1}, "project": "climate", "name": "my-run"}


@pytest.mark.parametrize(("args", "words"), [
    (["--params", "{not json"], "--params is not JSON"),
    (["--params", '{"a": 1'], "--params is not JSON"),
    (["--params", "[1, 2]"], "--params must be a JSON object"),
    (["--params", '"text"'], "--params must be a JSON object"),
    (["--params", "3"], "--params must be a JSON object"),
    (["--param", "novalue"], "--param 'novalue' is not key=value"),
    (["--param", "=5"], "--param '=5' is not key=value"),
    (["--param", "ok=1", "--param", "bad"], "--param 'bad' is not key=value"),
], ids=["not-json", "unclosed", "array", "string", "number", "no-equals", "no-key", "second-bad"])
def test_bad_parameters_exit_1_saying_what_is_wrong_and_nothing_is_sent(
        alice: World, gateway: FakeGateway, args: list[str], words: str) -> None:
    code, out, err = heroes(alice, "run", "run-job/run-job", *args)
    assert code == FAILED, out + err
    assert words in err and out == ""
    assert gateway.requests == []


def test_bad_params_json_says_how_to_write_it(alice: World, gateway: FakeGateway) -> None:
    err = heroes(alice, "run", "run-job/run-job", "--params", "spec=1")[2]
    assert "Fix: --params '{\"key\": \"value\"}'" in err


@pytest.mark.parametrize("deployment", ["run-job", "run-job/", "/run-job", "/", ""])
def test_a_deployment_that_is_not_flow_slash_deployment_exits_1(
        alice: World, gateway: FakeGateway, deployment: str) -> None:
    code, out, err = heroes(alice, "run", deployment)
    assert code == FAILED, out + err
    assert f"{deployment!r} is not flow/deployment (e.g. run-job/run-job)" in err
    assert gateway.requests == []


def test_bad_input_is_reported_before_asking_whether_anyone_is_logged_in(
        world: World, gateway: FakeGateway) -> None:
    code, _, err = heroes(world, "run", "run-job/run-job", "--params", "[]")
    assert code == FAILED and "must be a JSON object" in err and "not logged in" not in err


# --- the session -----------------------------------------------------------------------------------


def test_without_a_login_it_exits_3_saying_how_to_log_in_and_sends_nothing(
        world: World, gateway: FakeGateway) -> None:
    code, out, err = heroes(world, "run", "run-job/run-job", "--param", "n=1")
    assert code == NOT_AUTHENTICATED, out + err
    assert "not logged in" in err and "heroes login" in err
    assert gateway.requests == []


def test_the_request_carries_the_stored_access_token_and_json(alice: World, gateway: FakeGateway) -> None:
    assert heroes(alice, "run", "run-job/run-job")[0] == 0
    token = json.loads(alice.credentials.read_text())["access_token"]
    assert gateway.request.method == "POST"
    assert gateway.request.headers["authorization"] == f"Bearer {token}"
    assert gateway.request.headers["content-type"] == "application/json"
    assert gateway.timeouts == [60]


def test_an_expired_token_is_renewed_before_the_request_and_the_new_one_is_sent(
        alice: World, gateway: FakeGateway) -> None:
    stored = json.loads(alice.credentials.read_text())
    stored["expires_at"] = 0
    alice.credentials.write_text(json.dumps(stored))
    assert heroes(alice, "run", "run-job/run-job")[0] == 0
    renewed = json.loads(alice.credentials.read_text())["access_token"]
    assert alice.keycloak.grants == ["password", "refresh_token"]
    assert gateway.request.headers["authorization"] == f"Bearer {renewed}"


# --- where it is sent ------------------------------------------------------------------------------


def test_the_url_is_the_gateway_option(alice: World, gateway: FakeGateway) -> None:
    assert heroes(alice, "run", "my-flow/nightly", "--gateway", "https://gw.example:8443/",
                  env={GATEWAY_ENV: "http://env.example"})[0] == 0
    assert str(gateway.request.url) == "https://gw.example:8443/v1/deployments/my-flow/nightly/runs"


def test_else_the_environment(alice: World, gateway: FakeGateway) -> None:
    assert heroes(alice, "run", "my-flow/nightly", env={GATEWAY_ENV: "http://env.example/heroes/"})[0] == 0
    assert str(gateway.request.url) == "http://env.example/heroes/v1/deployments/my-flow/nightly/runs"


def test_else_the_default_port_on_loopback(alice: World, gateway: FakeGateway) -> None:
    code, out, _ = heroes(alice, "run", "run-job/run-job")
    assert code == 0
    assert str(gateway.request.url) == f"http://127.0.0.1:{DEFAULT_PORT}/v1/deployments/run-job/run-job/runs"
    assert f"http://127.0.0.1:{DEFAULT_PORT}/runs/flow-run/{RUN_ID}" in out


# --- the gateway's answer --------------------------------------------------------------------------


def test_201_prints_the_run_and_where_to_watch_it(alice: World, gateway: FakeGateway) -> None:
    code, out, err = heroes(alice, "run", "run-job/run-job", "--gateway", "http://gw.test:9000/")
    assert code == 0, out + err
    assert f"Launched run-job/run-job as run brave-otter ({RUN_ID})." in out
    assert f"Watch it: http://gw.test:9000/runs/flow-run/{RUN_ID}" in out
    assert err == ""


def test_401_exits_3_with_the_gateways_reason(alice: World, gateway: FakeGateway) -> None:
    gateway.status, gateway.answer = 401, {"detail": "the token has expired", "reason": "expired"}
    code, out, err = heroes(alice, "run", "run-job/run-job")
    assert code == NOT_AUTHENTICATED, out + err
    assert "The gateway refused the run (401): the token has expired" in err and out == ""


def test_403_exits_4_with_the_gateways_detail(alice: World, gateway: FakeGateway) -> None:
    detail = "'alice' of organisation 'acme' may not submit-workflow on workflow:acme/fusion"
    gateway.status, gateway.answer = 403, {"detail": detail, "action": "submit-workflow"}
    code, out, err = heroes(alice, "run", "run-job/run-job", "--project", "fusion")
    assert code == REFUSED, out + err
    assert f"The gateway refused the run (403): {detail}" in err and out == ""


@pytest.mark.parametrize(("status", "detail"), [
    (404, "no workflow nope/nope that you may launch (GET /v1/deployments lists them)"),
    (409, "Prefect refused the run of run-job/run-job: Validation failed"),
    (502, "the Prefect API could not be reached"),
    (422, "invalid project name"),
    (500, "Internal Server Error"),
])
def test_other_refusals_exit_1_with_the_detail(alice: World, gateway: FakeGateway, status: int,
                                               detail: str) -> None:
    gateway.status, gateway.answer = status, {"detail": detail}
    code, out, err = heroes(alice, "run", "run-job/run-job")
    assert code == FAILED, out + err
    assert f"The gateway refused the run ({status}): {detail}" in err and out == ""


def test_an_answer_that_is_not_json_is_shown_as_text(alice: World, gateway: FakeGateway) -> None:
    gateway.status, gateway.raw = 502, b"<html>Bad Gateway</html>"
    code, _, err = heroes(alice, "run", "run-job/run-job")
    assert code == FAILED
    assert "The gateway refused the run (502): <html>Bad Gateway</html>" in err


def test_a_json_answer_without_a_detail_is_shown_whole(alice: World, gateway: FakeGateway) -> None:
    gateway.status, gateway.answer = 409, {"error": "conflict"}
    code, _, err = heroes(alice, "run", "run-job/run-job")
    assert code == FAILED and '(409): {"error":"conflict"}' in err


@pytest.mark.parametrize("error", [
    lambda request: httpx.ConnectError("[Errno 111] Connection refused", request=request),
    lambda request: httpx.ConnectTimeout("timed out", request=request),
    lambda request: httpx.ReadTimeout("timed out", request=request),
    lambda request: httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                              request=request),
], ids=["refused", "connect-timeout", "read-timeout", "disconnected"])
def test_an_unreachable_gateway_exits_1_naming_the_url_and_the_fix(
        alice: World, gateway: FakeGateway, error: Callable[[httpx.Request], Exception]) -> None:
    gateway.raises = error
    code, out, err = heroes(alice, "run", "run-job/run-job", "--gateway", "http://127.0.0.1:9/")
    assert code == FAILED, out + err
    assert "The gateway at http://127.0.0.1:9 could not be reached" in err
    assert type(error(gateway.request)).__name__ in err
    assert f"check --gateway or ${GATEWAY_ENV}" in err and "`heroes gateway` runs there" in err
    assert out == ""


@pytest.mark.parametrize("url", ["gw.example:4300", "http://", "ftp://gw.example"])
def test_a_gateway_url_that_is_not_http_is_refused_before_anything_is_sent(
        alice: World, gateway: FakeGateway, url: str) -> None:
    code, _, err = heroes(alice, "run", "run-job/run-job", "--gateway", url)
    assert code == FAILED
    assert f"{url!r} is not the gateway's http(s) URL" in err
    assert gateway.requests == []


def test_the_help_renders_and_names_the_default_gateway() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and GATEWAY_ENV in result.output


@pytest.mark.parametrize("deployment", ["a/b/c", "run job/run-job", "run-job/run?job", "run-job/#x"])
def test_deployment_names_that_are_not_plain_names_are_refused_before_anything_is_sent(
        alice: World, gateway: FakeGateway, deployment: str) -> None:
    code, _, err = heroes(alice, "run", deployment)
    assert code == FAILED and "is not flow/deployment" in err
    assert gateway.requests == []


@pytest.mark.parametrize("option", [["--param", "x=NaN"], ["--param", "x=1e400"], ["--params", '{"x": Infinity}']])
def test_numbers_json_cannot_carry_are_refused_with_a_message(alice: World, gateway: FakeGateway,
                                                              option: list[str]) -> None:
    code, _, err = heroes(alice, "run", "run-job/run-job", *option)
    assert code == FAILED and "finite numbers" in err
    assert gateway.requests == []


@pytest.mark.parametrize("answer", [["nope"], "forbidden"])
def test_a_refusal_whose_body_is_not_an_object_is_shown_as_sent(alice: World, gateway: FakeGateway,
                                                                answer: Any) -> None:
    gateway.status, gateway.answer = 403, answer
    code, _, err = heroes(alice, "run", "run-job/run-job")
    assert code == REFUSED and "(403)" in err
    assert json.dumps(answer) in err


@pytest.mark.parametrize(("raw", "answer"), [(b"<html>hello</html>", None), (None, {"id": "x"})])
def test_a_201_without_a_run_is_reported_not_a_traceback(alice: World, gateway: FakeGateway,
                                                         raw: bytes | None, answer: Any) -> None:
    gateway.raw, gateway.answer = raw, answer
    code, _, err = heroes(alice, "run", "run-job/run-job")
    assert code == FAILED and "The gateway at http://127.0.0.1:4300 answered 201" in err
    assert ("with '<html>hello</html>', not JSON" if raw else 'without a run ({"id": "x"})') in err
    assert "is it a HEROES gateway?" in err


def test_a_401_says_how_to_log_in_again(alice: World, gateway: FakeGateway) -> None:
    gateway.status, gateway.answer = 401, {"detail": "the token expired", "reason": "expired"}
    code, _, err = heroes(alice, "run", "run-job/run-job")
    assert code == NOT_AUTHENTICATED and "heroes login" in err


# --- --wait ----------------------------------------------------------------------------------------


def test_wait_follows_the_run_to_completed_and_exits_0(alice: World, gateway: FakeGateway) -> None:
    gateway.states = ["RUNNING", "COMPLETED"]
    code, out, err = heroes(alice, "run", "run-job/run-job", "--wait")
    assert code == 0, out + err
    assert "Run brave-otter completed." in out
    assert [str(poll.url) for poll in gateway.polls] == [f"http://127.0.0.1:{DEFAULT_PORT}/v1/runs/{RUN_ID}"] * 2


@pytest.mark.parametrize("state", ["FAILED", "CRASHED", "CANCELLED"])
def test_wait_exits_1_naming_a_final_state_other_than_completed(alice: World, gateway: FakeGateway,
                                                                state: str) -> None:
    gateway.states = [state]
    code, out, err = heroes(alice, "run", "run-job/run-job", "--wait")
    assert code == FAILED
    assert f"Launched run-job/run-job as run brave-otter ({RUN_ID})." in out
    assert f"Run brave-otter ended {state.title()}." in err


def test_wait_stops_at_a_paused_run_saying_it_needs_an_answer(alice: World, gateway: FakeGateway) -> None:
    gateway.states = ["PAUSED", "COMPLETED"]
    code, _, err = heroes(alice, "run", "run-job/run-job", "--wait")
    assert code == FAILED and "is paused (Paused): it waits for an answer" in err
    assert len(gateway.polls) == 1


def test_without_wait_the_run_is_not_polled(alice: World, gateway: FakeGateway) -> None:
    gateway.states = ["COMPLETED"]
    assert heroes(alice, "run", "run-job/run-job")[0] == 0
    assert gateway.polls == []
