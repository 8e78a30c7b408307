"""The application as a whole: the request log, the Prefect UI passthrough, its settings, OpenAPI."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from heroes.gateway import REQUEST_LOG
from tests.unit.gateway.conftest import ALICE, BILL, FakePrefect, Minter, World, owner


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "heroes.gateway.requests"]


def test_every_request_is_logged_with_who_what_and_status(client: TestClient, tokens: Minter,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    assert REQUEST_LOG.name == "heroes.gateway.requests"
    caplog.set_level(logging.INFO, logger="heroes.gateway.requests")
    client.get("/v1/whoami", headers=tokens.headers(**ALICE))
    client.get("/v1/runs", headers=tokens.headers(**BILL))
    client.post("/api/variables/filter", json={}, headers=tokens.headers(**ALICE))
    client.get("/v1/whoami")
    records = logged(caplog)
    assert [(r.heroes_user, r.http_method, r.url_path, r.http_status) for r in records] == [  # type: ignore[attr-defined]
        ("alice@acme", "GET", "/v1/whoami", 200),
        ("bill@acme", "GET", "/v1/runs", 403),
        ("alice@acme", "POST", "/api/variables/filter", 403),
        ("anonymous", "GET", "/v1/whoami", 401),
    ]
    assert records[0].getMessage().startswith("alice@acme GET /v1/whoami -> 200 in ")
    assert records[3].getMessage().startswith("anonymous GET /v1/whoami -> 401 in ")
    assert all(record.levelno == logging.INFO for record in records)


def test_the_request_log_names_no_token(client: TestClient, tokens: Minter,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="heroes.gateway.requests")
    token = tokens.token()
    client.get("/v1/whoami", params={"x": "1"}, headers={"Authorization": f"Bearer {token}"})
    assert token not in caplog.text and "Bearer" not in caplog.text


def test_an_authenticated_browser_gets_the_prefect_ui(client: TestClient, tokens: Minter,
                                                      prefect: FakePrefect) -> None:
    response = client.get("/runs", headers={"Accept": "text/html", **tokens.headers(**ALICE)})
    assert response.status_code == 200 and "the Prefect UI" in response.text
    assert prefect.calls[-1].url_path == "/runs"


def test_ui_settings_point_the_prefect_ui_at_the_gateway(client: TestClient) -> None:
    settings = client.get("/ui-settings").json()
    assert settings["api_url"] == "/api"  # relative: the UI calls the gateway on the name the browser used
    assert settings["csrf_enabled"] is False
    assert settings["flags"] == []  # the rest is Prefect's own


def test_the_ui_passthrough_never_reaches_the_prefect_api(client: TestClient, tokens: Minter,
                                                          prefect: FakePrefect) -> None:
    """Dot segments in the path must not turn a UI page request into a Prefect API call.

    The UI route sends any other GET to ``<prefect>/<path>``; httpx resolves ``..`` in that
    URL, so ``/x/%2e%2e/api/...`` would reach the Prefect API past every rule of /api (and
    without any credentials when the request does not ask for HTML).
    """
    carols = prefect.add_run(owner("globex", "carol"))
    leaks = []
    for template in ("/x/%2e%2e/api/flow_runs/{run}", "/%2e%2e/api/flow_runs/{run}",
                     "/assets/%2E%2E/api/flow_runs/{run}"):
        path = template.format(run=carols["id"])
        for accept in ("application/json", "text/html"):
            for credentials in ({}, tokens.headers(**ALICE)):
                prefect.calls.clear()
                response = client.get(path, headers={"Accept": accept, **credentials}, follow_redirects=False)
                reached = [call.url_path for call in prefect.calls if call.url_path.startswith("/api/")]
                if reached or carols["id"] in response.text:
                    leaks.append(f"{path} ({accept}, {'alice' if credentials else 'anonymous'}) "
                                 f"-> {response.status_code}, Prefect API reached: {reached}")
    assert leaks == []


def test_openapi_publishes_the_heroes_api_only(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert "/v1/runs" in paths and "/v1/deployments/{flow}/{deployment}/runs" in paths
    assert not [path for path in paths if path.startswith(("/api", "/auth"))]


def test_a_run_id_that_is_no_uuid_is_404_without_asking_prefect(client: TestClient, tokens: Minter,
                                                                  prefect: FakePrefect) -> None:
    for hostile in ("not-a-uuid", "variables", f"{uuid.uuid4()}x", "%20" + str(uuid.uuid4())):
        response = client.get(f"/v1/runs/{hostile}", headers=tokens.headers(**ALICE))
        assert response.status_code == 404 and set(response.json()) == {"detail"}
        response = client.get(f"/api/flow_runs/{hostile}", headers=tokens.headers(**ALICE))
        assert response.status_code in (403, 404)
    assert not [call for call in prefect.calls if call.url_path.startswith("/api/flow_runs/")]


def test_every_answer_says_how_long_prefect_took_and_how_long_the_gateway_did(
        client: TestClient, tokens: Minter, world: World) -> None:
    answer = client.get("/v1/runs", headers=tokens.headers(**ALICE))
    timings = dict(part.strip().split(";dur=") for part in answer.headers["server-timing"].split(","))
    assert set(timings) == {"prefect", "gateway"}
    assert float(timings["prefect"]) > 0 and float(timings["gateway"]) > 0
    refused = client.get("/v1/runs")  # no token: Prefect never asked
    assert refused.headers["server-timing"].startswith("prefect;dur=0.00,")
