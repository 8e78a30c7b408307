"""An organisation's decision policy: its fence on platforms, its goals, what users may change."""

from __future__ import annotations

import pytest

from heroes_core.decision.policy import DecisionPolicies, DecisionPolicy, goals_for
from heroes_core.errors import SpecError
from heroes_core.store import Database
from heroes_core.workflows import WorkflowSpec


def spec(**goals: object) -> WorkflowSpec:
    return WorkflowSpec.model_validate({"name": "wf", "jobs": [{"id": "a", "application": "sim",
                                                                "command": ["x"]}], **goals})


FIXED = DecisionPolicy(organisation="acme", allowed_platforms=("north", "south"), strategy="price",
                       energy_cap_kj=500.0, users_may_change=False)


def test_a_spec_without_goals_gets_its_organisations_platforms_strategy_and_energy_cap() -> None:
    goals = goals_for(spec(), FIXED)
    assert (goals.strategy, goals.allowed_sites, goals.energy_cap_kj) == ("price", ["north", "south"], 500.0)
    assert "platforms north, south" in goals.policy and "may not change" in goals.policy


def test_a_spec_may_narrow_the_platforms_but_never_name_one_outside_them() -> None:
    assert goals_for(spec(allowed_sites=["south"]), FIXED).allowed_sites == ["south"]
    with pytest.raises(SpecError, match="does not let workflow 'wf' use east") as refused:
        goals_for(spec(allowed_sites=["south", "east"]), FIXED)
    assert "north, south" in str(refused.value.fix)


def test_a_fixed_strategy_refuses_another_and_a_free_one_lets_the_user_choose() -> None:
    with pytest.raises(SpecError, match="its users may not choose 'time'"):
        goals_for(spec(strategy="time"), FIXED)
    assert goals_for(spec(strategy="price"), FIXED).strategy == "price"  # the same goal is not a change
    free = FIXED.model_copy(update={"users_may_change": True})
    weighted = goals_for(spec(strategy="weighted", weights={"time": 1, "energy": 1}), free)
    assert weighted.strategy == "weighted" and weighted.weighs_energy


def test_a_tighter_energy_cap_is_always_allowed_and_a_looser_one_only_where_users_may_change() -> None:
    assert goals_for(spec(energy_cap_kj=100), FIXED).energy_cap_kj == 100
    with pytest.raises(SpecError, match="caps a workflow's energy at 500 kJ"):
        goals_for(spec(energy_cap_kj=900), FIXED)
    assert goals_for(spec(energy_cap_kj=900), FIXED.model_copy(update={"users_may_change": True})
                     ).energy_cap_kj == 900


def test_without_a_policy_the_spec_is_planned_as_written_and_time_is_the_default() -> None:
    goals = goals_for(spec(energy_cap_kj=10), None)
    assert (goals.strategy, goals.allowed_sites, goals.energy_cap_kj) == ("time", None, 10)


def test_weights_without_a_strategy_and_an_empty_platform_list_are_refused() -> None:
    with pytest.raises(ValueError, match="weights are given without a strategy"):
        spec(weights={"time": 1})
    with pytest.raises(ValueError, match="would allow no placement"):
        DecisionPolicy(organisation="acme", allowed_platforms=())
    with pytest.raises(ValueError, match="weighted strategy needs weights"):
        DecisionPolicy(organisation="acme", strategy="weighted")


def test_a_workflows_own_policy_replaces_its_organisations_and_others_keep_the_organisations(
        database: Database) -> None:
    policies = DecisionPolicies(database)
    assert policies.get("nobody") == DecisionPolicy(organisation="nobody")  # no row: the open default
    policies.set(FIXED, actor="manager")
    policies.set(DecisionPolicy(organisation="acme", workflow="urgent", strategy="time",
                                allowed_platforms=("north",)), actor="manager")
    assert policies.get("acme", "urgent").allowed_platforms == ("north",)
    assert policies.get("acme", "nightly") == FIXED
    policies.set(FIXED.model_copy(update={"energy_cap_kj": None}), actor="manager")  # an update, not a copy
    assert policies.get("acme").energy_cap_kj is None
    assert policies.get("other-org") == DecisionPolicy(organisation="other-org")  # one org's rule is its own
    with pytest.raises(SpecError, match="must be named"):
        policies.set(FIXED, actor="")


@pytest.mark.parametrize("platform", ["../north", "north\nsouth", "", "a" * 65])
def test_a_platform_that_is_no_centre_name_is_refused_where_the_policy_enters(platform: str) -> None:
    with pytest.raises(ValueError, match="allowed_platforms"):
        DecisionPolicy(organisation="acme", allowed_platforms=(platform,))
