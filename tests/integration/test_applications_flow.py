"""An application's whole life through the gateway: register, push, functional test, publish to one
project, run by a user of that project (licence charged), alone or as a workflow job beside a raw
one, refused for another organisation and for parameters its schema refuses. Real Slurm, real
containers, real S3, the test bed's PostgreSQL."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from heroes.client import HeroesClient

pytestmark = pytest.mark.integration
SCHEMA = {"type": "object", "properties": {"word": {"type": "string", "maxLength": 40}},
          "required": ["word"], "additionalProperties": False}
# the parameter reaches the program as an argument, never as shell code
COMMAND = ["sh", "-c", 'echo "said: $1" > result.txt', "sh", "{word}"]


def launch(gateway: Any, tenants: Any, user: str, deployment: str, parameters: dict[str, Any],
           project: str | None = "p1") -> dict[str, Any]:
    response = gateway.post(f"/v1/deployments/{deployment}/{deployment}/runs", headers=tenants.headers(user),
                            json={"parameters": parameters, "project": project})
    assert response.status_code == 201, response.text
    return tenants.finished(gateway, user, response.json()["id"])


def logs(gateway: Any, tenants: Any, user: str, run: dict[str, Any], *, showing: str = "") -> str:
    """The run's logs as its owner reads them; waits (a little) for ``showing`` to arrive, since
    Prefect ships a run's last lines after its final state."""
    deadline = time.monotonic() + 30
    while True:
        text = "\n".join(line["message"] for line in
                         gateway.get(f"/v1/runs/{run['id']}/logs", headers=tenants.headers(user)).json())
        if showing in text or time.monotonic() > deadline:
            return text
        time.sleep(1)


@pytest.fixture(scope="module")
def published(gateway: Any, live_gateway: str, tenants: Any, image: dict[str, str],
              module_runner: Any) -> dict[str, Any]:
    """echoer-<random> of acme: registered and pushed by paco, tested and published to acme/p1,
    with a licence fee of 0.50 EUR per run in the price book."""
    from heroes.blocks import HeroesDatabase
    from heroes_core.costs import PriceBook, PriceModel

    name = f"echoer-{uuid.uuid4().hex[:8]}"
    organisation = tenants.organisations["acme"]
    with HeroesClient(live_gateway, tenants.token("paco")) as paco:
        paco.apps.register(name, parameter_schema=SCHEMA, command=COMMAND, description="says a word")
        pushed = paco.apps.push(name, "1.0", Path(image["path"]), tags=["latest"])
    assert pushed.digest == image["digest"]
    prices = PriceBook(HeroesDatabase.load("heroes-database").database())
    prices.register_provider(organisation, organisation, "application")
    offering = prices.offering(organisation, "application", f"{name}-licence")
    prices.publish(organisation, offering, PriceModel(currency="EUR", fixed=Decimal("0.50")),
                   valid_from=datetime.now(UTC) + timedelta(seconds=1))
    run = launch(gateway, tenants, "paco", "publish-application", {
        "application": name, "version": "1.0",
        "targets": [{"scope": "project", "organisation": organisation, "project": "p1"}],
        "licence_terms": "0.50 EUR per run", "price_offering": f"{name}-licence",
        "test": {"parameters": {"word": "hello"}, "expect": [{"file": "result.txt", "contains": "said: hello"}]}})
    assert run["state"] == "COMPLETED", logs(gateway, tenants, "paco", run)
    return {"name": name, "organisation": organisation, "digest": pushed.digest}


def test_publication_records_the_functional_test_for_the_exact_digest(published: dict[str, Any],
                                                                       live_gateway: str, tenants: Any) -> None:
    with HeroesClient(live_gateway, tenants.token("alice")) as alice:
        version = alice.apps.show(published["name"], "latest")
    assert version.tested_digest_ok and version.digest == published["digest"]
    assert [p.target.key for p in version.publications] == [f"project:{published['organisation']}/p1"]


def licence_lines(published: dict[str, Any], organisation: str, run: dict[str, Any]) -> list[Any]:
    """The run's ledger lines of the application's licence (not of the compute)."""
    from heroes.blocks import HeroesDatabase
    from heroes_core.costs import Ledger, PriceBook

    database = HeroesDatabase.load("heroes-database").database()
    licence = PriceBook(database).find_offering(published["organisation"], "application",
                                                f"{published['name']}-licence")
    return [line for line in Ledger(database).lines(organisation=organisation, workflow_id=run["id"])
            if line.offering_id == licence]


def test_a_user_of_the_owning_organisation_runs_it_by_name_without_a_licence_fee(
        published: dict[str, Any], gateway: Any, tenants: Any) -> None:
    run = launch(gateway, tenants, "alice", "run-application",
                 {"job": {"application": published["name"], "version": "1.0", "parameters": {"word": "hi; ls"}}})
    assert run["state"] == "COMPLETED", logs(gateway, tenants, "alice", run)
    assert licence_lines(published, published["organisation"], run) == []


def test_another_organisation_runs_it_only_once_published_to_it_and_pays_its_licence(
        published: dict[str, Any], gateway: Any, tenants: Any) -> None:
    from heroes.blocks import HeroesDatabase
    from heroes_core.catalog import ApplicationCatalogue, PublicationTarget

    umbrella = tenants.organisations["umbrella"]
    job = {"job": {"application": published["name"], "version": "1.0", "parameters": {"word": "x"}}}
    refused = launch(gateway, tenants, "bob", "run-application", job)
    assert refused["state"] == "FAILED"
    expected = f"no application {published['name']} 1.0 that {umbrella}/p1 may run"
    text = logs(gateway, tenants, "bob", refused, showing=expected)
    assert expected in text
    assert "Submitted" not in text
    ApplicationCatalogue(HeroesDatabase.load("heroes-database").database()).publish(
        published["name"], "1.0", [PublicationTarget.of_project(umbrella, "p1")],
        licence_terms="0.50 EUR per run", price_offering=f"{published['name']}-licence", actor="paco")
    run = launch(gateway, tenants, "bob", "run-application", job)
    assert run["state"] == "COMPLETED", logs(gateway, tenants, "bob", run)
    [line] = licence_lines(published, umbrella, run)
    assert (line.amount, line.currency, line.user, line.project) == (Decimal("0.50"), "EUR", "bob", "p1")


def test_parameters_the_schema_refuses_fail_before_submission(published: dict[str, Any], gateway: Any,
                                                              tenants: Any) -> None:
    run = launch(gateway, tenants, "alice", "run-application",
                 {"job": {"application": published["name"], "version": "1.0", "parameters": {"word": 5}}})
    assert run["state"] == "FAILED"
    text = logs(gateway, tenants, "alice", run, showing="parameters.word")
    assert "parameters.word" in text and "Submitted" not in text


def test_a_workflow_runs_a_published_application_by_name_beside_a_raw_job_and_pays_its_licence(
        published: dict[str, Any], gateway: Any, tenants: Any) -> None:
    from heroes.blocks import CentralArchive, HeroesDatabase
    from heroes_core.catalog import ApplicationCatalogue, PublicationTarget
    from heroes_core.costs import Ledger, PriceBook

    umbrella = tenants.organisations["umbrella"]
    ApplicationCatalogue(HeroesDatabase.load("heroes-database").database()).publish(
        published["name"], "1.0", [PublicationTarget.of_project(umbrella, "p1")],
        licence_terms="0.50 EUR per run", price_offering=f"{published['name']}-licence", actor="paco")
    workflow = {"name": f"wf-{uuid.uuid4().hex[:6]}", "jobs": [
        {"id": "greet", "application": published["name"], "version": "1.0", "parameters": {"word": "wave"},
         "estimate_minutes": 0.1},
        {"id": "copy", "application": "busybox", "estimate_minutes": 0.1,
         "command": ["sh", "-c", 'cat "$HEROES_PARENT_GREET/result.txt" > copied.txt']}],
        "edges": [{"parent": "greet", "child": "copy", "files": ["result.txt"]}]}
    run = launch(gateway, tenants, "bob", "run-workflow", {"workflow": workflow, "auto_accept": True})
    assert run["state"] == "COMPLETED", logs(gateway, tenants, "bob", run)
    archive = CentralArchive.load("heroes-archive")
    client = archive.s3_client()
    bucket = archive.endpoint().bucket_for(umbrella)
    listing = [item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix="bob/jobs/")["Contents"]]

    def job_wrote(name: str) -> str:
        """The key of the job of this workflow whose output ``name`` says the workflow's word."""
        [key] = [item.split("/")[2] for item in listing if item.endswith(f"/{name}")
                 and client.get_object(Bucket=bucket, Key=item)["Body"].read() == b"said: wave\n"]
        return key

    greet_key, copy_key = job_wrote("result.txt"), job_wrote("copied.txt")
    database = HeroesDatabase.load("heroes-database").database()
    licence = PriceBook(database).find_offering(published["organisation"], "application",
                                                f"{published['name']}-licence")
    charged = {key: [line for line in Ledger(database).lines(job_key=key) if line.offering_id == licence]
               for key in (greet_key, copy_key)}
    [line] = charged[greet_key]  # the catalogue job pays its licence; the raw one does not
    assert charged[copy_key] == []
    assert (line.amount, line.user, line.project) == (Decimal("0.50"), "bob", "p1")


def test_a_workflow_whose_parameters_the_schema_refuses_fails_before_planning(
        published: dict[str, Any], gateway: Any, tenants: Any) -> None:
    workflow = {"name": f"wf-{uuid.uuid4().hex[:6]}", "jobs": [
        {"id": "greet", "application": published["name"], "version": "1.0", "parameters": {"word": 5},
         "estimate_minutes": 0.1}]}
    run = launch(gateway, tenants, "alice", "run-workflow", {"workflow": workflow, "auto_accept": True})
    assert run["state"] == "FAILED"
    text = logs(gateway, tenants, "alice", run, showing="parameters.word")
    assert "parameters.word" in text and "Placement" not in text and "Submitted" not in text
