"""The SDK's runs and application workflows: the requests it sends, and the gateway's answers told plainly.

The gateway is an ``httpx.MockTransport`` given to ``HeroesClient(transport=...)``, so every request
is the one httpx would send (path, JSON body, bearer token); waiting runs on a fake clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from heroes.client import ApiError, HeroesClient, RunsClient, RunTimeoutError, RunView
from heroes.client._runs import PUBLISH_APPLICATION, RUN_APPLICATION, RUN_JOB, UNPUBLISH_APPLICATION
from heroes_core.catalog import PublicationTarget

URL = "http://gw.test:4300"
TOKEN = "token-of-alice"
RUN_ID = "0b6c1d4e-3f2a-4c8b-9d7e-5a1f2e3d4c5b"
RUN = {"id": RUN_ID, "name": "brave-otter", "deployment": "run-job/run-job", "state": "SCHEDULED",
       "state_name": "Scheduled", "created": "2025-01-02T03:04:05Z", "start_time": None, "end_time": None,
       "organisation": "acme", "user": "alice", "project": "p1", "tags": ["heroes.user:alice"]}
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeGateway:
    """Answers ``(method, path)`` with the next of its queued answers (the last one repeats)."""

    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.answers[(method, path)] = list(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queued = self.answers.get((request.method, request.url.path))
        if not queued:
            return httpx.Response(404, json={"detail": f"no route {request.method} {request.url.path}"})
        answer = queued.pop(0) if len(queued) > 1 else queued[0]
        return answer(request) if callable(answer) else answer

    def body(self, index: int = -1) -> dict[str, Any]:
        sent: dict[str, Any] = json.loads(self.requests[index].content)
        return sent


@dataclass
class FakeClock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(gateway: FakeGateway, clock: FakeClock) -> HeroesClient:
    made = HeroesClient(URL, TOKEN, transport=httpx.MockTransport(gateway.handle))
    made.runs = RunsClient(made, clock=clock, sleep=clock.sleep)
    return made


def run_in(state: str) -> httpx.Response:
    return httpx.Response(200, json={**RUN, "state": state, "state_name": state.title()})


def launched() -> httpx.Response:
    return httpx.Response(201, json=RUN)


# --- launch ----------------------------------------------------------------------------------------


def test_launch_posts_the_parameters_project_and_name_to_the_deployment_with_the_token(
        client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("POST", "/v1/deployments/run-job/run-job/runs", launched())
    run = client.runs.launch(RUN_JOB, {"spec": {"command": ["true"]}}, project="p1", name="mine")
    [request] = gateway.requests
    assert str(request.url) == f"{URL}/v1/deployments/run-job/run-job/runs"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert gateway.body() == {"parameters": {"spec": {"command": ["true"]}}, "project": "p1", "name": "mine"}
    assert isinstance(run, RunView)
    assert (run.id, run.name, run.state, run.project) == (RUN_ID, "brave-otter", "SCHEDULED", "p1")


def test_launch_without_parameters_sends_an_empty_object_and_tags_only_when_given(
        client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("POST", "/v1/deployments/my-flow/nightly/runs", launched())
    client.runs.launch("my-flow/nightly")
    assert gateway.body() == {"parameters": {}, "project": None, "name": None}
    client.runs.launch("my-flow/nightly", tags=["campaign-7"])
    assert gateway.body()["tags"] == ["campaign-7"]


def test_launch_reaches_a_gateway_under_a_path_prefix(gateway: FakeGateway) -> None:
    gateway.on("POST", "/heroes/v1/deployments/run-job/run-job/runs", launched())
    with HeroesClient("http://gw.test/heroes/", TOKEN, transport=httpx.MockTransport(gateway.handle)) as client:
        client.runs.launch(RUN_JOB)
    assert str(gateway.requests[0].url) == "http://gw.test/heroes/v1/deployments/run-job/run-job/runs"


@pytest.mark.parametrize("deployment", ["run-job", "run-job/", "/run-job", "a/b/c", "run job/run-job",
                                        "run-job/run?job", "../v1/x", ""])
def test_a_deployment_that_is_not_flow_slash_deployment_is_refused_before_anything_is_sent(
        client: HeroesClient, gateway: FakeGateway, deployment: str) -> None:
    with pytest.raises(ValueError, match="is not flow/deployment"):
        client.runs.launch(deployment, {})
    assert gateway.requests == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_numbers_json_cannot_carry_are_refused_before_anything_is_sent(
        client: HeroesClient, gateway: FakeGateway, value: float) -> None:
    with pytest.raises(ValueError, match="finite numbers"):
        client.runs.launch(RUN_JOB, {"x": {"y": [value]}})
    assert gateway.requests == []


@pytest.mark.parametrize(("status", "detail"), [
    (401, "the token has expired"),
    (403, "'alice' of organisation 'acme' may not submit-workflow on workflow:acme/fusion"),
    (404, "no workflow nope/nope that you may launch (GET /v1/deployments lists them)"),
    (409, "Prefect refused the run of run-job/run-job: Validation failed"),
])
def test_a_refusal_is_an_api_error_with_the_gateways_status_and_detail(
        client: HeroesClient, gateway: FakeGateway, status: int, detail: str) -> None:
    gateway.on("POST", "/v1/deployments/run-job/run-job/runs", httpx.Response(status, json={"detail": detail}))
    with pytest.raises(ApiError) as refused:
        client.runs.launch(RUN_JOB, {})
    assert (refused.value.status, refused.value.detail) == (status, detail)
    assert str(refused.value) == f"{status}: {detail}"


def test_an_unreachable_gateway_is_an_api_error_with_status_0_naming_its_url(
        client: HeroesClient, gateway: FakeGateway) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    gateway.on("POST", "/v1/deployments/run-job/run-job/runs", refuse)
    with pytest.raises(ApiError) as unreachable:
        client.runs.launch(RUN_JOB)
    assert unreachable.value.status == 0
    assert f"the gateway at {URL} could not be reached (ConnectError" in unreachable.value.detail


@pytest.mark.parametrize(("answer", "words"), [
    (httpx.Response(201, content=b"<html>hi</html>"), "answered 201 with '<html>hi</html>', not JSON"),
    (httpx.Response(201, json={"id": "x"}), 'answered 201 without a run ({"id": "x"})'),
    (httpx.Response(201, json=["x"]), 'answered 201 without a run (["x"])'),
], ids=["not-json", "no-name", "a-list"])
def test_a_success_that_is_not_a_run_is_an_api_error_asking_whether_it_is_a_heroes_gateway(
        client: HeroesClient, gateway: FakeGateway, answer: httpx.Response, words: str) -> None:
    gateway.on("POST", "/v1/deployments/run-job/run-job/runs", answer)
    with pytest.raises(ApiError) as odd:
        client.runs.launch(RUN_JOB)
    assert odd.value.status == 201
    assert words in odd.value.detail and "is it a HEROES gateway?" in odd.value.detail


# --- reading and cancelling runs -------------------------------------------------------------------


def test_deployments_list_what_the_caller_may_launch(client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("GET", "/v1/deployments", httpx.Response(200, json=[{
        "id": "d1", "name": "run-job/run-job", "description": "Run one job", "action": "submit-workflow",
        "parameters": {"centre": "local-slurm"}, "parameter_schema": {"type": "object"}}]))
    [found] = client.runs.deployments()
    assert (found.name, found.action, found.parameters) == ("run-job/run-job", "submit-workflow",
                                                           {"centre": "local-slurm"})


def test_get_logs_artifacts_and_cancel_use_the_runs_paths(client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("RUNNING"))
    gateway.on("GET", f"/v1/runs/{RUN_ID}/logs", httpx.Response(200, json=[
        {"timestamp": "2025-01-02T03:04:06Z", "level": 20, "message": "Submitted batch job 7"}]))
    gateway.on("GET", f"/v1/runs/{RUN_ID}/artifacts", httpx.Response(200, json=[
        {"id": "a1", "key": "usage", "type": "table", "description": None, "data": [{"cores": 1}]}]))
    gateway.on("POST", f"/v1/runs/{RUN_ID}/cancel", httpx.Response(202, json={**RUN, "state": "CANCELLING"}))
    run = client.runs.get(RUN_ID)
    assert run.state == "RUNNING" and not run.finished
    assert [line.message for line in client.runs.logs(run)] == ["Submitted batch job 7"]
    assert client.runs.artifacts(RUN_ID)[0].data == [{"cores": 1}]
    assert client.runs.cancel(run).state == "CANCELLING"
    assert [(r.method, r.url.path) for r in gateway.requests] == [
        ("GET", f"/v1/runs/{RUN_ID}"), ("GET", f"/v1/runs/{RUN_ID}/logs"),
        ("GET", f"/v1/runs/{RUN_ID}/artifacts"), ("POST", f"/v1/runs/{RUN_ID}/cancel")]


def test_a_run_of_another_organisation_is_the_gateways_404_with_its_detail(
        client: HeroesClient, gateway: FakeGateway) -> None:
    detail = f"no run {RUN_ID} among the runs you may read"
    gateway.on("GET", f"/v1/runs/{RUN_ID}", httpx.Response(404, json={"detail": detail}))
    with pytest.raises(ApiError) as missing:
        client.runs.get(RUN_ID)
    assert (missing.value.status, missing.value.detail) == (404, detail)


@pytest.mark.parametrize("bad", ["../deployments", "x", f"{RUN_ID}/cancel", ""])
def test_a_run_id_that_is_not_a_uuid_is_refused_before_anything_is_sent(
        client: HeroesClient, gateway: FakeGateway, bad: str) -> None:
    for call in (client.runs.get, client.runs.logs, client.runs.artifacts, client.runs.cancel, client.runs.wait):
        with pytest.raises(ValueError, match="is not a run id"):
            call(bad)
    assert gateway.requests == []


# --- wait ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("final", ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"])
def test_wait_polls_through_unfinished_states_and_returns_the_final_one(
        client: HeroesClient, gateway: FakeGateway, clock: FakeClock, final: str) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("SCHEDULED"), run_in("PENDING"), run_in("RUNNING"),
               run_in("CANCELLING"), run_in(final), run_in("RUNNING"))
    run = client.runs.wait(RUN_ID, timeout_s=60, poll_s=2)
    assert run.state == final and run.finished
    assert len(gateway.requests) == 5
    assert clock.slept == [2, 2, 2, 2]


def test_wait_returns_a_paused_run_at_once_for_its_owner_to_answer(
        client: HeroesClient, gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("RUNNING"), run_in("PAUSED"), run_in("COMPLETED"))
    run = client.runs.wait(RunView.model_validate(RUN), timeout_s=60, poll_s=1)
    assert run.paused and not run.finished
    assert len(gateway.requests) == 2


def test_wait_times_out_with_an_error_naming_the_run_its_state_and_what_to_do(
        client: HeroesClient, gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("RUNNING"))
    with pytest.raises(RunTimeoutError) as late:
        client.runs.wait(RUN_ID, timeout_s=5, poll_s=2)
    message = str(late.value)
    assert f"run brave-otter ({RUN_ID}) is still Running after 5 s; it goes on" in message
    assert f"client.runs.wait('{RUN_ID}')" in message and f"client.runs.cancel('{RUN_ID}')" in message
    assert late.value.run is not None and late.value.run.state == "RUNNING"
    assert isinstance(late.value, TimeoutError)
    assert clock.slept == [2, 2, 1]  # never sleeps past the deadline
    assert clock.now == 5


def test_wait_polls_through_a_gateway_briefly_down_once_it_has_answered(
        client: HeroesClient, gateway: FakeGateway, clock: FakeClock) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("RUNNING"), down,
               httpx.Response(503, json={"detail": "the Prefect API could not be reached"}), run_in("COMPLETED"))
    assert client.runs.wait(RUN_ID, timeout_s=60, poll_s=1).completed


def test_wait_times_out_saying_what_the_last_failed_poll_was(
        client: HeroesClient, gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("RUNNING"),
               httpx.Response(502, json={"detail": "the Prefect API could not be reached"}))
    with pytest.raises(RunTimeoutError, match=r"the last poll: 502: the Prefect API could not be reached"):
        client.runs.wait(RUN_ID, timeout_s=3, poll_s=1)


@pytest.mark.parametrize("first", [
    httpx.Response(404, json={"detail": "no such run"}), httpx.Response(503, json={"detail": "down"})])
def test_wait_raises_the_gateways_refusal_at_once(client: HeroesClient, gateway: FakeGateway,
                                                  clock: FakeClock, first: httpx.Response) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", first)
    with pytest.raises(ApiError) as refused:
        client.runs.wait(RUN_ID, timeout_s=60)
    assert refused.value.status == first.status_code
    assert clock.slept == []


def test_a_404_while_waiting_is_not_polled_through(client: HeroesClient, gateway: FakeGateway,
                                                   clock: FakeClock) -> None:
    gateway.on("GET", f"/v1/runs/{RUN_ID}", run_in("RUNNING"), httpx.Response(404, json={"detail": "gone"}))
    with pytest.raises(ApiError, match="404: gone"):
        client.runs.wait(RUN_ID, timeout_s=60, poll_s=1)


# --- applications ----------------------------------------------------------------------------------


def test_apps_run_launches_run_application_with_the_job_and_its_fields(
        client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("POST", "/v1/deployments/run-application/run-application/runs", launched())
    run = client.apps.run("echoer", "1.0", {"word": "hi"}, project="p1", cores=4, time_limit_minutes=30,
                          inputs=["home/in.txt"], run_name="echo-1")
    assert run.id == RUN_ID
    assert gateway.body() == {"parameters": {"job": {
        "application": "echoer", "version": "1.0", "parameters": {"word": "hi"}, "cores": 4,
        "time_limit_minutes": 30, "inputs": ["home/in.txt"]}}, "project": "p1", "name": "echo-1"}


def test_apps_run_defaults_to_latest_and_names_the_centre_only_when_given(
        client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("POST", "/v1/deployments/run-application/run-application/runs", launched())
    client.apps.run("echoer")
    assert gateway.body()["parameters"] == {"job": {"application": "echoer", "version": "latest",
                                                    "parameters": {}}}
    client.apps.run("echoer", centre="big-centre")
    assert gateway.body()["parameters"]["centre"] == "big-centre"


@pytest.mark.parametrize("fields", [{"core": 4}, {"cores": 0}, {"time_limit_minutes": "soon"}])
def test_apps_run_refuses_job_fields_the_flow_would_refuse_before_anything_is_sent(
        client: HeroesClient, gateway: FakeGateway, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        client.apps.run("echoer", **fields)
    assert gateway.requests == []


TEST = {"parameters": {"word": "hello"}, "expect": [{"file": "result.txt", "contains": "said: hello"}]}


def test_apps_publish_launches_publish_application_with_targets_licence_price_and_test(
        client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("POST", "/v1/deployments/publish-application/publish-application/runs", launched())
    client.apps.publish("echoer", "1.0", targets=[PublicationTarget.of_project("acme", "p1"),
                                                  {"scope": "everyone"}],
                        licence_terms="0.50 EUR per run", price_offering="echoer-licence", test=TEST,
                        centre="local-slurm", project="p1")
    assert gateway.body() == {"parameters": {
        "application": "echoer", "version": "1.0",
        "targets": [{"scope": "project", "organisation": "acme", "project": "p1"}, {"scope": "everyone"}],
        "licence_terms": "0.50 EUR per run", "price_offering": "echoer-licence", "test": TEST,
        "centre": "local-slurm"}, "project": "p1", "name": None}


@pytest.mark.parametrize(("targets", "test", "words"), [
    ([], TEST, "at least one target"),
    ([{"scope": "project", "organisation": "acme"}], TEST, "an organisation and a project"),
    ([{"scope": "everyone"}], {"parameters": {}, "expect": []}, "expect"),
], ids=["no-target", "project-without-name", "test-expects-nothing"])
def test_apps_publish_refuses_what_the_flow_would_refuse_before_anything_is_sent(
        client: HeroesClient, gateway: FakeGateway, targets: list[Any], test: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        client.apps.publish("echoer", "1.0", targets=targets, licence_terms="t", price_offering="o", test=test)
    assert gateway.requests == []


def test_apps_unpublish_launches_unpublish_application_with_the_target(
        client: HeroesClient, gateway: FakeGateway) -> None:
    gateway.on("POST", "/v1/deployments/unpublish-application/unpublish-application/runs", launched())
    client.apps.unpublish("echoer", "1.0", PublicationTarget.of_organisation("umbrella"))
    assert gateway.body() == {"parameters": {"application": "echoer", "version": "1.0",
                                             "target": {"scope": "organisation", "organisation": "umbrella"}},
                              "project": None, "name": None}


def test_apps_run_passes_on_the_gateways_refusal(client: HeroesClient, gateway: FakeGateway) -> None:
    detail = "'bill' of organisation 'acme' may not submit-workflow on workflow:acme"
    gateway.on("POST", "/v1/deployments/run-application/run-application/runs",
               httpx.Response(403, json={"detail": detail, "action": "submit-workflow"}))
    with pytest.raises(ApiError) as refused:
        client.apps.run("echoer")
    assert (refused.value.status, refused.value.detail) == (403, detail)


# --- the SDK and the flows agree -------------------------------------------------------------------


def test_the_sdks_deployment_names_are_the_served_user_deployments() -> None:
    from heroes.deployments import user_deployments

    served = {f"{deployment.flow_name}/{deployment.name}" for deployment in user_deployments()}
    assert {RUN_JOB, RUN_APPLICATION, PUBLISH_APPLICATION, UNPUBLISH_APPLICATION} <= served


def test_the_parameters_the_sdk_sends_are_those_the_flows_accept(client: HeroesClient,
                                                                 gateway: FakeGateway) -> None:
    from prefect import Flow

    from heroes.flows.user.entry import (
        publish_application_granted,
        run_application_granted,
        unpublish_application_granted,
    )

    for deployment in (RUN_APPLICATION, PUBLISH_APPLICATION, UNPUBLISH_APPLICATION):
        gateway.on("POST", f"/v1/deployments/{deployment}/runs", launched())
    client.apps.run("echoer", "1.0", {"word": "hi"}, centre="c", cores=2, name="job-1")
    client.apps.publish("echoer", "1.0", targets=[PublicationTarget.everyone()], licence_terms="t",
                        price_offering="o", test=TEST, centre="c")
    client.apps.unpublish("echoer", "1.0", PublicationTarget.of_project("acme", "p1"))
    flows: list[Flow[Any, Any]] = [run_application_granted, publish_application_granted,
                                   unpublish_application_granted]
    for index, entry in enumerate(flows):
        sent = gateway.body(index)["parameters"]
        assert set(sent) <= set(entry.parameters.properties) - {"grant"}
        assert set(entry.parameters.required or []) <= set(sent)
        entry.validate_parameters({**sent, "grant": ""})  # as the flow's run will
