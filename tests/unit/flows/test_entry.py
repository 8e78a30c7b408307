"""The user-facing flows take no owner, billing or storage parameter, and admit a run only with a
valid grant, claimed for that run, before anything else (hermetic: the API, the grant key's block
and the database are swapped for local stand-ins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from heroes.deployments import all_deployments
from heroes.flows import billing_report_granted, run_job_granted, run_workflow_granted
from heroes.flows.user import admission
from heroes_core.errors import (
    GrantExpiredError,
    GrantForgedError,
    GrantMissingError,
    GrantParametersChangedError,
    GrantReplayedError,
    GrantWrongDeploymentError,
    PermissionDeniedError,
)
from heroes_core.identity import Action, Identity, Role, issue_grant
from heroes_core.identity.grant_ledger import GrantLedger
from heroes_core.store import Database

CALLER_CHOSEN = {"organisation", "user", "project", "billing", "database", "archive", "catalog", "job_key"}
KEY = "test-grant-key-" + "x" * 32
DEPLOYMENT = "run-job/run-job"
PARAMETERS: dict[str, Any] = {"spec": {"image": {"path": "/i/b.sqfs", "digest": "sha256:" + "0" * 64},
                                       "command": ["true"]}}
ENGINEER = Identity(subject="s-1", user="ada", organisation="acme", projects=frozenset({"lab"}),
                    roles=frozenset({Role.ENGINEER}))


@pytest.mark.parametrize("entry", [run_job_granted, run_workflow_granted, billing_report_granted])
def test_user_facing_flows_take_a_grant_and_nothing_that_says_who_pays_or_where_data_lives(entry) -> None:  # type: ignore[no-untyped-def]
    names = set(entry.parameters.properties)
    assert "grant" in names
    assert not names & CALLER_CHOSEN


def test_the_user_facing_deployments_run_the_granted_flows() -> None:
    served = {d.name: d.flow_name for d in all_deployments(["local-slurm"])}
    assert served["run-job"] == run_job_granted.name == "run-job"
    assert served["run-workflow"] == run_workflow_granted.name == "run-workflow"
    assert served["billing-report"] == billing_report_granted.name == "billing-report"


class _Database:
    def __init__(self, database: Database) -> None:
        self._database = database

    def database(self) -> Database:
        return self._database


class _Logger:
    def info(self, *args: object) -> None:
        pass


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """This flow run: its id, its parameters as the API holds them, the ledger it claims in."""
    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    state: dict[str, Any] = {"parameters": dict(PARAMETERS), "ledger": GrantLedger(database)}
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setattr(admission, "run_parameters", lambda flow_run_id: state["parameters"])
    monkeypatch.setattr(admission, "grant_key", lambda: KEY)
    monkeypatch.setattr(admission, "deployment_name", lambda: DEPLOYMENT)
    monkeypatch.setattr(admission, "load_database", lambda name: _Database(database))
    monkeypatch.setattr(admission, "get_run_logger", _Logger)
    return state


def grant_for(identity: Identity = ENGINEER, parameters: dict[str, Any] | None = None, **kwargs: Any) -> str:
    return issue_grant(identity, Action.SUBMIT_WORKFLOW, kwargs.pop("deployment", DEPLOYMENT),
                       PARAMETERS if parameters is None else parameters, kwargs.pop("key", KEY), **kwargs)


def test_a_valid_grant_admits_the_run_under_its_identity_and_claims_it(run: dict[str, Any]) -> None:
    token = grant_for(project="lab")
    run["parameters"]["grant"] = token
    admitted = admission.admit(token, Action.SUBMIT_WORKFLOW)
    assert (admitted.identity, admitted.project) == (ENGINEER, "lab")
    assert run["ledger"].claimed_by(admitted.nonce) == "00000000-0000-0000-0000-000000000001"
    assert admission.admit(token, Action.SUBMIT_WORKFLOW) == admitted  # a retry of the same run


@pytest.mark.parametrize(("token", "error"), [
    (lambda: "", GrantMissingError),
    (lambda: grant_for(key="another-key-" + "y" * 32), GrantForgedError),
    (lambda: grant_for(deployment="run-workflow/run-workflow"), GrantWrongDeploymentError),
    (lambda: grant_for(parameters={**PARAMETERS, "centre": "elsewhere"}), GrantParametersChangedError),
    (lambda: grant_for(ENGINEER.model_copy(update={"roles": frozenset({Role.BILLING_ADMIN})})),
     PermissionDeniedError),
])
def test_a_bad_grant_fails_the_run_at_entry_and_claims_nothing(run: dict[str, Any], token, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        admission.admit(token(), Action.SUBMIT_WORKFLOW)
    with run["ledger"].database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM grant_claims").scalar() == 0


def test_a_grant_used_by_another_run_is_a_replay(run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    token = grant_for()
    admission.admit(token, Action.SUBMIT_WORKFLOW)
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000002")
    with pytest.raises(GrantReplayedError):
        admission.admit(token, Action.SUBMIT_WORKFLOW)


def test_a_run_admitted_in_time_resumes_after_its_grant_expired_but_no_other_run_starts_with_it(
        run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    token = grant_for(now=datetime.now(UTC) - timedelta(minutes=9), ttl=timedelta(minutes=10))
    admitted = admission.admit(token, Action.SUBMIT_WORKFLOW)
    monkeypatch.setattr(admission, "verify_grant", _later(admission.verify_grant, timedelta(minutes=5)))
    assert admission.admit(token, Action.SUBMIT_WORKFLOW) == admitted
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000002")
    with pytest.raises(GrantExpiredError):
        admission.admit(token, Action.SUBMIT_WORKFLOW)
    with pytest.raises(GrantParametersChangedError):  # a resumed run's parameters are still checked
        monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000001")
        run["parameters"] = {**PARAMETERS, "centre": "elsewhere"}
        admission.admit(token, Action.SUBMIT_WORKFLOW)


def _later(original, by: timedelta):  # type: ignore[no-untyped-def]
    """``verify_grant`` with the clock moved on by ``by`` (unless given a time)."""
    def verify(*args: Any, now: datetime | None = None) -> Any:
        return original(*args, now=now or datetime.now(UTC) + by)
    return verify
