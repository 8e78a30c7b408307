"""Workflows from the Python SDK against the live gateway: a run-job run launched with
``client.runs.launch`` runs as its caller on real Slurm and ``client.runs.wait`` follows it to
COMPLETED; a user of another organisation gets the gateway's 404 for it, as for no run at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from heroes.client import ApiError, HeroesClient, RunView
from tests.integration.grants import job

pytestmark = pytest.mark.integration
Sdk = Callable[[str], HeroesClient]


@pytest.fixture(scope="module")
def alices_run(live_gateway: str, tenants: Any, image: dict[str, str], module_runner: Any) -> RunView:
    """A run-job run alice launches in her project p1 through the SDK, followed to its end."""
    with HeroesClient(live_gateway, tenants.token("alice")) as alice:
        launched = alice.runs.launch("run-job/run-job", job(image, ["sh", "-c", "echo from-the-sdk"]),
                                     project="p1", name=f"sdk-{uuid.uuid4().hex[:8]}")
        assert launched.state in {"SCHEDULED", "PENDING"}, launched
        return alice.runs.wait(launched, timeout_s=240, poll_s=1)


def test_a_run_launched_through_the_sdk_completes_as_its_caller(alices_run: RunView, tenants: Any,
                                                                sdk: Sdk) -> None:
    assert alices_run.completed, alices_run
    assert (alices_run.deployment, alices_run.organisation, alices_run.user, alices_run.project) == \
        ("run-job/run-job", tenants.organisations["acme"], "alice", "p1")
    alice = sdk("alice")
    assert alices_run.id in {run.id for run in alice.runs.ls()}
    assert alice.runs.logs(alices_run), "the run has logs its owner may read"


def test_a_user_of_another_organisation_is_refused_the_run_as_if_it_did_not_exist(
        alices_run: RunView, sdk: Sdk) -> None:
    bob = sdk("bob")
    missing_id = str(uuid.uuid4())
    with pytest.raises(ApiError) as missing:
        bob.runs.get(missing_id)
    for call in (bob.runs.get, bob.runs.logs, bob.runs.artifacts, bob.runs.cancel, bob.runs.wait):
        with pytest.raises(ApiError) as refused:
            call(alices_run.id)
        assert refused.value.status == missing.value.status == 404
        assert refused.value.detail.replace(alices_run.id, "ID") == missing.value.detail.replace(missing_id, "ID")
    assert alices_run.id not in {run.id for run in bob.runs.ls()}
    assert sdk("alice").runs.get(alices_run).state == "COMPLETED", "bob's cancel changed nothing"
