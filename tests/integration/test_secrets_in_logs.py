"""No credential of the test bed appears in any log line of a real job run with ECS logging on:
not in the ECS file the sink writes, not in the logs the Prefect API holds for the run (what
the Prefect UI shows).

The job runs through ``heroes.flows.user.run_job.run_job``, as a subflow of a small parent
flow that, as a control, logs some of those credentials on purpose (raw, in a URL, as a header,
one line of an SSH key), both through Prefect's run logger and a core logger: the scan would
find them if redaction failed, so it is a test that can fail. The secrets of the blocks the run
loads are registered as ``tasks/resolve.load_block`` registers them once it calls
``register_secrets_of``; the patterns (URL passwords, Authorization headers, private keys) need
no registration.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from prefect import flow, get_run_logger

import heroes_core.logs as logs
from heroes_core.logs.redaction import MIN_SECRET_LENGTH
from heroes_core.models import ImageRef, JobSpec

DEADLINE_S = 60


def credentials(testbed: dict[str, Any]) -> dict[str, str]:
    """Every credential the test bed holds, by where it comes from."""
    from prefect.blocks.system import Secret

    from heroes.blocks import KeycloakRealm
    from heroes.blocks.defaults import DEFAULT_GRANT_KEY, DEFAULT_KEYCLOAK_REALM

    found: dict[str, str] = {"s3 secret key": testbed["s3"]["secret_key"]}
    for centre in testbed["centres"]:
        key = Path(centre["private_key_path"]).read_text()
        found[f"ssh key of {centre['user']}"] = key.strip()
        for number, line in enumerate(key.splitlines()):
            if len(line) >= 16 and "PRIVATE KEY" not in line:
                found[f"ssh key of {centre['user']}, line {number}"] = line
    for name, url in testbed["postgres"].items():
        password = urlsplit(url).password
        if password:
            found[f"database password ({name})"] = unquote(password)
    secrets_dir = Path(testbed["keycloak"]["admin_password_path"]).parent
    for path in sorted(secrets_dir.iterdir()):  # Keycloak admin, demo user, MariaDB, PostgreSQL
        if path.is_file() and path.read_text().strip():
            found[f"secret file {path.name}"] = path.read_text().strip()
    found["grant key"] = Secret.load(DEFAULT_GRANT_KEY).get()  # type: ignore[union-attr]
    try:
        realm = KeycloakRealm.load(DEFAULT_KEYCLOAK_REALM)
    except ValueError:
        realm = None  # the demo's realm block, not made by the tests' registration
    if isinstance(realm, KeycloakRealm):
        for label, value in (("keycloak admin password", realm.admin_password),
                             ("keycloak client secret", realm.admin_client_secret)):
            if value is not None and value.get_secret_value():
                found[label] = value.get_secret_value()
    return {label: value for label, value in found.items() if len(value) >= MIN_SECRET_LENGTH}


@pytest.fixture
def ecs_file(tmp_path: Path) -> Iterator[Path]:
    """ECS logging switched on for this process, into a file sink; switched off after."""
    path = tmp_path / "heroes.ndjson"
    root = logging.getLogger()
    handlers = list(root.handlers)
    logs.configure("ecs", sink=logs.FileSink(path, max_bytes=1_000_000, backup_count=20))
    yield path
    logs.reset()
    logs.SECRETS.clear()
    root.handlers[:] = handlers


@flow(name="itest-secrets-scan")
def parent(spec: JobSpec, user: str, leaks: list[str]) -> dict[str, Any]:
    """A run_job job inside the HEROES fields of its owner, with the control leaks first."""
    from heroes.flows import run_job

    run_logger = get_run_logger()
    core_logger = logging.getLogger("heroes_core.itest.secrets")
    with logs.log_context(organisation="itest", user=user):
        for leak in leaks:
            run_logger.warning("control leak: %s", leak)
            core_logger.warning("control leak: %s", leak)
        state = run_job(spec=spec, organisation="itest", user=user, return_state=True)
    return {"child": str(state.state_details.flow_run_id), "completed": state.is_completed(),
            "message": state.message}


def api_logs(flow_run_ids: list[str]) -> list[str]:
    """The messages the Prefect API holds for these runs, once they stop growing."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    deadline, previous = time.monotonic() + DEADLINE_S, -1
    with get_client(sync_client=True) as client:
        while True:
            found, offset = [], 0
            while batch := client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
                    any_=[uuid.UUID(each) for each in flow_run_ids])), limit=200, offset=offset):
                found += batch
                offset += len(batch)
            if len(found) == previous or time.monotonic() > deadline:
                return [log.message for log in found]
            previous = len(found)
            time.sleep(2)


def test_no_credential_appears_in_any_log_line_of_a_real_run(testbed, blocks, archive, image, user,  # type: ignore[no-untyped-def]
                                                             ecs_file: Path) -> None:
    from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre

    for block in (HPCCentre.load("local-slurm"), CentralArchive.load("heroes-archive"),
                  HeroesDatabase.load("heroes-database")):
        logs.register_secrets_of(block)  # as tasks/resolve.load_block does
    found = credentials(testbed)
    ssh_line = next(value for label, value in found.items() if ", line" in label)
    leaks = [f"s3 key {testbed['s3']['secret_key']}", testbed["postgres"]["url"],
             f"Authorization: Bearer {found['grant key']}", f"key material {ssh_line}"]
    spec = JobSpec(image=ImageRef(**image), command=["sh", "-c", "echo hello > out.txt"],
                   time_limit_minutes=2)

    state = parent(spec=spec, user=user, leaks=leaks, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["completed"], result["message"]
    logs.shutdown()

    files = sorted(ecs_file.parent.glob("heroes.ndjson*"))
    lines = [line for path in files for line in path.read_text().splitlines()]
    prefect_lines = api_logs([str(state.state_details.flow_run_id), result["child"]])
    assert len(lines) > 20 and len(prefect_lines) > 10, (len(lines), len(prefect_lines))

    leaked = [(label, where) for label, secret in found.items()
              for where, text in (("ECS file", lines), ("Prefect API logs", prefect_lines))
              if any(secret in line for line in text)]
    assert not leaked, f"credentials in the logs: {leaked}"

    # The control leaks were logged, redacted, on both paths: the scan above saw them.
    assert sum("control leak: " in line for line in lines) == 2 * len(leaks)
    assert sum(message.startswith("control leak: ") for message in prefect_lines) == len(leaks)
    records = [logs.validate_line(line) for line in lines]  # every line is a HEROES ECS record
    task_records = [r for r in records if r.log.logger == "prefect.task_runs"]
    assert task_records and all(r.heroes and r.heroes.organisation == "itest" and r.heroes.user == user
                                for r in task_records)
    # The job's accounting reached the log store as its own record, with its figures and fields.
    [accounted] = [r for r in records if r.event is not None and r.event.dataset == logs.ACCOUNTING_DATASET]
    assert accounted.heroes is not None and accounted.heroes.job is not None
    assert (accounted.heroes.user, accounted.heroes.job.state) == (user, "COMPLETED")
    job = accounted.heroes.job
    assert accounted.heroes.job_id and job.energy_source in ("slurm", "model", "none")
    assert (job.energy_j is None) == (job.energy_source == "none")  # a job too short to measure says so
