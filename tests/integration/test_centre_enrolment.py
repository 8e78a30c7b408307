"""Enrolment and compliance of HPC centres against the test bed (module 2, deployment).

The HEROES Runtime role runs over the test bed's sshd as the unprivileged service
accounts; nothing here needs root on the "centre".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

from heroes.blocks import HeroesDatabase, HPCCentre
from heroes.deployments.automations import HEARTBEAT_ENV
from heroes.flows.architecture.centres import (
    COMPLIANCE_FAILED,
    COMPLIANCE_PASSED,
    check_hpc_centre_compliance,
    enroll_hpc_centre,
)
from heroes_core.enrolment import Enrolments, heroes_version, run_playbook
from tests.integration.block_copies import save_copy

ROOT = Path(__file__).resolve().parents[2]


def enrolments() -> Enrolments:
    block: HeroesDatabase = HeroesDatabase.load("heroes-database")  # type: ignore[assignment]
    return Enrolments(block.database())


def events(api: str, name: str, centre: str, since: datetime, want: int = 1) -> list[dict[str, Any]]:
    body = {"filter": {"event": {"name": [name]}, "resource": {"id": [f"heroes.centre.{centre}"]},
                       "occurred": {"since": since.isoformat()}}, "limit": 20}
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(found) < want:
        found = httpx.post(f"{api}/events/filter", json=body, timeout=10).json()["events"]
        time.sleep(0.5)
    return found


def mode_of(centre: HPCCentre, path: str) -> str:
    return centre.site().transport.check(["stat", "-c", "%a", path]).stdout.strip()


def test_enrolling_local_slurm_installs_the_runtime_idempotently(blocks) -> None:  # type: ignore[no-untyped-def]
    before = datetime.now(UTC)
    result = enroll_hpc_centre(centre="local-slurm")
    assert result["enrolled"] and result["runtime_version"] == heroes_version()
    assert result["changed_second_run"] == 0
    checks = {row["check"]: row for row in result["checks"]}
    assert checks["smoke job"]["result"] == "ok" and "completed" in checks["smoke job"]["detail"]
    assert all(row["result"] != "FAILED" for row in result["checks"])
    view = enrolments().get("local-slurm")
    assert view is not None and view.enrolled_at is not None and view.enrolled_at >= before
    assert view.runtime_version == heroes_version() and view.last_compliance_ok
    centre: HPCCentre = HPCCentre.load("local-slurm")  # type: ignore[assignment]
    assert mode_of(centre, centre.work_root) == "700"
    stamp = centre.site().transport.check(["cat", f"{centre.work_root}/.heroes/runtime.json"]).stdout
    assert f'"version": "{heroes_version()}"' in stamp and '"ear_found": false' in stamp


def test_compliance_passes_on_an_enrolled_centre_and_emits_the_event(testbed, blocks) -> None:  # type: ignore[no-untyped-def]
    enrolled = enrolments().get("local-slurm")
    if enrolled is None or not enrolled.enrolled:
        enroll_hpc_centre(centre="local-slurm")
    since = datetime.now(UTC) - timedelta(seconds=1)
    result = check_hpc_centre_compliance(centre="local-slurm")
    assert result["compliant"]
    assert {row["check"] for row in result["checks"]} >= {
        "enrolled", "ssh", "runtime present", "runtime version", "configuration", "smoke job"}
    found = events(testbed["prefect"]["api_url"], COMPLIANCE_PASSED, "local-slurm", since)
    assert len(found) == 1 and found[0]["payload"]["failed"] == []
    view = enrolments().get("local-slurm")
    assert view is not None and view.last_compliance_ok and view.last_compliance_at >= since  # type: ignore[operator]


def test_compliance_catches_a_broken_runtime_without_changing_it(testbed, blocks) -> None:  # type: ignore[no-untyped-def]
    centre: HPCCentre = HPCCentre.load("local-slurm-2")  # type: ignore[assignment]
    enroll_hpc_centre(centre="local-slurm-2")
    transport = centre.site().transport
    try:
        transport.check(["chmod", "755", centre.work_root])
        since = datetime.now(UTC) - timedelta(seconds=1)
        state = check_hpc_centre_compliance(centre="local-slurm-2", return_state=True)
        assert state.is_failed()
        assert "configuration" in str(state.message) and "Fix:" in str(state.message)
        assert mode_of(centre, centre.work_root) == "755"  # the check-mode run changed nothing
        found = events(testbed["prefect"]["api_url"], COMPLIANCE_FAILED, "local-slurm-2", since)
        assert len(found) == 1
        assert [f["name"] for f in found[0]["payload"]["failed"]] == ["configuration"]
        view = enrolments().get("local-slurm-2")
        assert view is not None and view.last_compliance_ok is False
        assert view.last_compliance_failures[0]["name"] == "configuration"
    finally:
        restored = run_playbook(centre.site_config())
    assert restored.ok and restored.changed >= 1
    assert mode_of(centre, centre.work_root) == "700"
    check_hpc_centre_compliance(centre="local-slurm-2")  # compliant again once repaired
    view = enrolments().get("local-slurm-2")
    assert view is not None and view.last_compliance_ok is True


def test_a_centre_failing_a_prerequisite_is_not_enrolled(blocks) -> None:  # type: ignore[no-untyped-def]
    centre: HPCCentre = HPCCentre.load("local-slurm")  # type: ignore[assignment]
    save_copy(centre, "local-slurm-bad-partition", partitions=["debug", "nosuch"])
    state = enroll_hpc_centre(centre="local-slurm-bad-partition", return_state=True)
    assert state.is_failed()
    message = str(state.message)
    assert "[local-slurm-bad-partition]" in message and "nosuch" in message
    assert "remove nosuch from the centre block's partitions" in message
    assert enrolments().get("local-slurm-bad-partition") is None


def test_prefect_deploy_all_from_the_repository(testbed, blocks, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The repository's prefect.yaml deploys as is; under names of its own so that nothing it
    registers can meet another test's (or a user's) deployments, and removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    pool = f"heroes-process-{suffix}"
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in config["deployments"]:
        deployment["name"] = f"{deployment['name']}-{suffix}"
        deployment["work_pool"]["name"] = pool
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PREFECT_API_URL": testbed["prefect"]["api_url"], "HEROES_HOME": str(ROOT)}
    prefect = [sys.executable, "-m", "prefect"]
    subprocess.run([*prefect, "work-pool", "create", pool, "--type", "process"],
                   env=env, capture_output=True, text=True, check=True)
    try:
        done = subprocess.run([*prefect, "--no-prompt", "deploy", "--all", "--prefect-file",
                               str(prefect_file)], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=False, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(
                f"check-hpc-centre-compliance/check-compliance-local-slurm-{suffix}")
            assert deployment.parameters == {"centre": "local-slurm"}
            assert deployment.work_pool_name == pool
            # the pool's definition in prefect.yaml: output not streamed, heartbeats sent
            assert deployment.job_variables == {"stream_output": False, "env": dict(HEARTBEAT_ENV)}
            assert [s.schedule.cron for s in deployment.schedules] == ["0 * * * *"]  # type: ignore[union-attr]
            assert client.read_deployment_by_name(
                f"enroll-hpc-centre/enroll-hpc-centre-{suffix}").work_pool_name == pool
    finally:
        with get_client(sync_client=True) as client:
            for found in client.read_deployments(work_pool_filter=WorkPoolFilter(
                    name=WorkPoolFilterName(any_=[pool]))):
                client.delete_deployment(found.id)
        subprocess.run([*prefect, "work-pool", "delete", pool], env=env, input="y\n",
                       capture_output=True, text=True, check=False)


@pytest.fixture(autouse=True)
def _no_runtime_dir_env(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HEROES_ANSIBLE_DIR", raising=False)
