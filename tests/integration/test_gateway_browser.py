"""A real browser logs in through Keycloak, opens the Prefect UI through the gateway, launches
`run-job` from the UI and sees only its own organisation's runs (issue 11's browser test).

The gateway runs as a real server (uvicorn) on a loopback port; Debian's headless Chromium
opens it: the gateway sends it to the realm's Keycloak login page, alice types her password,
Keycloak sends her back with a code the gateway redeems. She opens the `run-job` deployment's
page, runs it with a job spec typed in the UI's JSON editor, and the run completes on the
test bed's Slurm under her identity. A run bob (another organisation) launched beforehand is
not in her list. The screenshot of her runs page is kept in build/test-artifacts/.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.integration.browser import chromium, custom_run, log_in_with_keycloak, run_names

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts"


def test_a_browser_logs_in_launches_run_job_in_the_prefect_ui_and_sees_only_its_organisations_runs(
        live_gateway: str, tenants: Any, image: dict[str, str], module_runner: Any, gateway: Any) -> None:
    job = {"image": image, "command": ["sh", "-c", "echo launched-from-the-ui"], "time_limit_minutes": 5}
    foreign = f"bobs-{uuid.uuid4().hex[:8]}"
    launched = gateway.post("/v1/deployments/run-job/run-job/runs", headers=tenants.headers("bob"),
                            json={"parameters": {"spec": job}, "name": foreign})
    assert launched.status_code == 201, launched.text
    deployment = next(d for d in gateway.get("/v1/deployments", headers=tenants.headers("alice")).json()
                      if d["name"] == "run-job/run-job")
    mine = f"alices-{uuid.uuid4().hex[:8]}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "gateway-prefect-ui-runs.png"
    with chromium() as browser:
        log_in_with_keycloak(browser, f"{live_gateway}/", "alice", tenants.password("alice"))
        custom_run(browser, live_gateway, deployment["id"], {"spec": job}, mine)
        runs = gateway.get("/v1/runs", headers=tenants.headers("alice")).json()
        created = next((run for run in runs if run["name"] == mine), None)
        assert created is not None, runs
        assert (created["user"], created["organisation"]) == ("alice", tenants.organisations["acme"])
        created = tenants.finished(gateway, "alice", created["id"])
        assert created["state"] == "COMPLETED", created
        names = run_names(browser, live_gateway, until=lambda seen: mine in seen)
        browser.save_screenshot(str(screenshot))
    assert foreign not in names, names
    assert all(not name.startswith("bobs-") for name in names), names
    assert screenshot.stat().st_size > 10_000
