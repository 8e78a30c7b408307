"""Run grants: every bad input refused with its own error, canonical parameters, the ledger's replay rule."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heroes_core.errors import (
    GrantError,
    GrantExpiredError,
    GrantFailure,
    GrantForgedError,
    GrantKeyError,
    GrantMalformedError,
    GrantMissingError,
    GrantParametersChangedError,
    GrantReplayedError,
    GrantWrongDeploymentError,
    HeroesError,
    SpecError,
)
from heroes_core.identity import Action, Identity, Role, issue_grant, read_grant, verify_grant
from heroes_core.identity.grant_ledger import GrantLedger
from heroes_core.identity.grants import LEEWAY, MAX_TTL, canonical_json, parameters_digest
from heroes_core.store import Database

KEY = "k" * 40
OTHER_KEY = "o" * 40
DEPLOYMENT = "run-job/run-job"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
ALICE = Identity(subject="f1d2", user="alice", organisation="acme", projects=frozenset({"lab"}),
                 roles=frozenset({Role.ENGINEER}))
PARAMETERS: dict[str, Any] = {
    "spec": {"image": {"path": "/images/busybox.sqfs", "digest": "sha256:" + "a" * 64},
             "command": ["true"], "time_limit_minutes": 5},
    "centre": "local-slurm", "poll_interval": 1.0,
}


def grant(parameters: dict[str, Any] | None = None, **kwargs: Any) -> str:
    arguments: dict[str, Any] = {"identity": ALICE, "action": Action.SUBMIT_WORKFLOW,
                                 "deployment": DEPLOYMENT,
                                 "parameters": PARAMETERS if parameters is None else parameters,
                                 "key": KEY, "now": NOW} | kwargs
    return issue_grant(**arguments)


def test_a_grant_verifies_into_the_identity_action_project_and_times_it_was_issued_for() -> None:
    verified = verify_grant(grant(project="lab"), DEPLOYMENT, PARAMETERS, KEY, now=NOW + timedelta(minutes=1))
    assert verified.identity == ALICE
    assert verified.action is Action.SUBMIT_WORKFLOW
    assert verified.project == "lab"
    assert verified.deployment == DEPLOYMENT
    assert verified.issued_at == NOW
    assert verified.expires_at == NOW + timedelta(minutes=10)


def test_the_grant_entry_among_the_parameters_is_not_part_of_what_it_binds() -> None:
    token = grant()
    assert verify_grant(token, DEPLOYMENT, PARAMETERS | {"grant": token}, KEY, now=NOW).identity == ALICE


def test_each_grant_has_its_own_nonce() -> None:
    assert read_grant(grant(), KEY).nonce != read_grant(grant(), KEY).nonce


@pytest.mark.parametrize("missing", [None, "", "  ", 42])
def test_a_run_without_a_grant_is_refused_as_not_started_through_the_gateway(missing: object) -> None:
    with pytest.raises(GrantMissingError, match="not started through the HEROES gateway") as refused:
        verify_grant(missing, DEPLOYMENT, PARAMETERS, KEY, now=NOW)
    assert refused.value.reason is GrantFailure.MISSING
    assert "gateway" in (refused.value.fix or "")


def test_a_grant_signed_with_another_key_is_forged() -> None:
    with pytest.raises(GrantForgedError, match="not signed by the HEROES gateway") as refused:
        verify_grant(grant(key=OTHER_KEY), DEPLOYMENT, PARAMETERS, KEY, now=NOW)
    assert KEY not in str(refused.value) and OTHER_KEY not in str(refused.value)


def test_a_grant_whose_claims_were_edited_is_forged() -> None:
    header, payload, signature = grant().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["org"] = "globex"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(GrantForgedError):
        verify_grant(f"{header}.{edited}.{signature}", DEPLOYMENT, PARAMETERS, KEY, now=NOW)


def test_an_unsigned_grant_is_forged() -> None:
    claims = jwt.decode(grant(), KEY, algorithms=["HS256"], options={"verify_exp": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"typ": "heroes-grant+jwt"})
    with pytest.raises(GrantForgedError):
        verify_grant(unsigned, DEPLOYMENT, PARAMETERS, KEY, now=NOW)


def test_a_token_signed_with_the_key_but_not_a_grant_is_malformed() -> None:
    other = jwt.encode({"iss": "heroes-gateway", "sub": "x", "iat": 0, "exp": 1, "jti": "n" * 20}, KEY,
                       algorithm="HS256")
    with pytest.raises(GrantMalformedError, match="not a HEROES grant"):
        verify_grant(other, DEPLOYMENT, PARAMETERS, KEY, now=NOW)
    with pytest.raises(GrantMalformedError):
        verify_grant("not.a.token", DEPLOYMENT, PARAMETERS, KEY, now=NOW)


def test_an_expired_grant_is_refused_with_when_it_expired() -> None:
    token = grant(ttl=timedelta(minutes=5))
    assert verify_grant(token, DEPLOYMENT, PARAMETERS, KEY, now=NOW + timedelta(minutes=5) + LEEWAY / 2)
    with pytest.raises(GrantExpiredError, match="expired at 2026-11-30 02:05:00 UTC") as refused:
        verify_grant(token, DEPLOYMENT, PARAMETERS, KEY, now=NOW + timedelta(minutes=5) + LEEWAY)
    assert refused.value.reason is GrantFailure.EXPIRED


def test_a_grant_issued_in_the_future_is_refused() -> None:
    with pytest.raises(GrantExpiredError, match="issued in the future"):
        verify_grant(grant(), DEPLOYMENT, PARAMETERS, KEY, now=NOW - LEEWAY - timedelta(seconds=1))


def test_a_grant_for_another_deployment_is_refused() -> None:
    with pytest.raises(GrantWrongDeploymentError, match="'run-job/run-job', not 'run-workflow/run-workflow'"):
        verify_grant(grant(), "run-workflow/run-workflow", PARAMETERS, KEY, now=NOW)


@pytest.mark.parametrize("change", [
    {"centre": "local-slurm-2"},
    {"poll_interval": 2.0},
    {"organisation": "globex"},
    {"spec": {**PARAMETERS["spec"], "command": ["rm", "-rf", "/"]}},
])
def test_parameters_changed_after_issue_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(GrantParametersChangedError, match="not those its grant was issued for"):
        verify_grant(grant(), DEPLOYMENT, PARAMETERS | change, KEY, now=NOW)


def test_a_removed_parameter_is_a_change() -> None:
    fewer = {name: value for name, value in PARAMETERS.items() if name != "centre"}
    with pytest.raises(GrantParametersChangedError):
        verify_grant(grant(), DEPLOYMENT, fewer, KEY, now=NOW)


def test_short_keys_are_refused_on_both_sides_without_showing_them() -> None:
    with pytest.raises(GrantKeyError, match="at least 32") as refused:
        grant(key="short-key")
    assert "short-key" not in str(refused.value)
    with pytest.raises(GrantKeyError):
        verify_grant(grant(), DEPLOYMENT, PARAMETERS, "short-key", now=NOW)


def test_grants_are_short_lived_and_only_for_the_callers_projects() -> None:
    with pytest.raises(SpecError, match="at most"):
        grant(ttl=MAX_TTL + timedelta(seconds=1))
    with pytest.raises(SpecError):
        grant(ttl=timedelta(0))
    with pytest.raises(SpecError, match="not a member of project 'secret'"):
        grant(project="secret")


def test_every_grant_error_is_a_heroes_error_naming_a_fix() -> None:
    for error in (GrantMissingError, GrantMalformedError, GrantForgedError, GrantExpiredError,
                  GrantWrongDeploymentError, GrantParametersChangedError, GrantReplayedError, GrantKeyError):
        assert issubclass(error, GrantError) and issubclass(error, HeroesError)
        assert isinstance(error.reason, GrantFailure)
    assert len({error.reason for error in GrantError.__subclasses__()}) == len(GrantError.__subclasses__())


# Canonical parameters


def test_canonical_json_ignores_key_order_and_writes_numbers_by_value() -> None:
    assert canonical_json({"b": 1, "a": {"y": [1, 2], "x": None}}) == '{"a":{"x":null,"y":[1,2]},"b":1}'
    assert canonical_json({"n": 1.0}) == canonical_json({"n": 1}) == canonical_json({"n": Decimal("1.00")})
    assert canonical_json({"n": 0.1}) == canonical_json({"n": Decimal("0.1")}) == '{"n":0.1}'
    assert canonical_json({"n": 1e20}) == '{"n":100000000000000000000}'
    assert canonical_json({"t": "é"}) == '{"t":"é"}'
    assert canonical_json({"n": 1}) != canonical_json({"n": "1"})
    assert canonical_json({"b": True}) != canonical_json({"b": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, Decimal("NaN"), Decimal("-Infinity"), {1, 2}, object()])
def test_canonical_json_refuses_what_json_cannot_hold(bad: object) -> None:
    with pytest.raises(SpecError):
        canonical_json({"x": bad})
    with pytest.raises(SpecError, match="text keys"):
        canonical_json({"x": {1: "a"}})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
PARAMETER_MAPS = st.dictionaries(st.text(min_size=1, max_size=12), JSON, max_size=6)


@settings(max_examples=200, deadline=None)
@given(PARAMETER_MAPS)
def test_a_json_round_trip_and_reordering_keep_the_digest(parameters: dict[str, Any]) -> None:
    """What the gateway sends and what the Prefect API gives the flow back digest the same."""
    round_tripped = json.loads(json.dumps(parameters))
    reordered = dict(reversed(list(round_tripped.items())))
    assert parameters_digest(reordered) == parameters_digest(parameters)


@settings(max_examples=200, deadline=None)
@given(PARAMETER_MAPS, st.text(min_size=1, max_size=12), JSON)
def test_any_change_of_a_parameter_changes_the_digest(parameters: dict[str, Any], name: str, value: Any) -> None:
    changed = parameters | {name: value}
    same = name in parameters and canonical_json({"v": parameters[name]}) == canonical_json({"v": value})
    assert (parameters_digest(changed) == parameters_digest(parameters)) == (same or name == "grant")


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_and_the_decimal_of_its_repr_are_one_number(number: float) -> None:
    assert canonical_json({"n": number}) == canonical_json({"n": Decimal(repr(number))})


@settings(max_examples=50, deadline=None)
@given(PARAMETER_MAPS, st.integers(min_value=0, max_value=3000))
def test_a_grant_verifies_for_its_parameters_within_its_life_and_never_after(
        parameters: dict[str, Any], seconds: int) -> None:
    token = grant(parameters, ttl=timedelta(minutes=30))
    moment = NOW + timedelta(seconds=seconds)
    if moment - LEEWAY < NOW + timedelta(minutes=30):
        assert verify_grant(token, DEPLOYMENT, json.loads(json.dumps(parameters)), KEY, now=moment)
    else:
        with pytest.raises(GrantExpiredError):
            verify_grant(token, DEPLOYMENT, parameters, KEY, now=moment)


# The ledger: one flow run per grant


@pytest.fixture
def ledger(tmp_path: Path) -> GrantLedger:
    return GrantLedger(Database(f"sqlite:///{tmp_path / 'heroes.db'}"))


def test_the_same_flow_run_may_claim_its_grant_again(ledger: GrantLedger) -> None:
    verified = read_grant(grant(), KEY)
    ledger.claim(verified, "run-1")
    ledger.claim(verified, "run-1")  # a retry or a resumed crash
    assert ledger.claimed_by(verified.nonce) == "run-1"


def test_another_flow_run_with_a_used_grant_is_a_replay(ledger: GrantLedger) -> None:
    verified = read_grant(grant(), KEY)
    ledger.claim(verified, "run-1")
    with pytest.raises(GrantReplayedError, match="already started another flow run") as refused:
        ledger.claim(verified, "run-2")
    assert "run-1" not in str(refused.value)
    assert refused.value.reason is GrantFailure.REPLAYED
    assert ledger.claimed_by(verified.nonce) == "run-1"


def test_distinct_grants_are_claimed_independently(ledger: GrantLedger) -> None:
    first, second = read_grant(grant(), KEY), read_grant(grant(), KEY)
    ledger.claim(first, "run-1")
    ledger.claim(second, "run-2")
    assert ledger.claimed_by(second.nonce) == "run-2"
    assert ledger.claimed_by("unknown-nonce-xxxx") is None
