"""Which EAR policy a job runs under: the organisation's default, or the user's pick if allowed."""

import pytest
from pydantic import ValidationError

from heroes_core.energy.policy import EnergyPolicies, EnergyPolicySetting, choose_policy
from heroes_core.errors import SpecError
from heroes_core.store import Database

STRICT = EnergyPolicySetting(organisation="acme", default_policy="min_energy")
EXPERTS = EnergyPolicySetting(organisation="acme", default_policy="monitoring", users_may_choose=True)


def test_non_experts_get_the_organisations_default_on_ear_centres_and_nothing_elsewhere() -> None:
    assert choose_policy(STRICT, None, ear=True) == "min_energy"
    assert choose_policy(STRICT, None, ear=False) is None


def test_experts_pick_their_own_where_the_organisation_allows_it() -> None:
    assert choose_policy(EXPERTS, "min_time", ear=True) == "min_time"
    assert choose_policy(EXPERTS, None, ear=True) == "monitoring"


def test_a_pick_the_organisation_does_not_allow_is_refused_naming_its_default() -> None:
    with pytest.raises(SpecError, match="sets its jobs' EAR policy \\(min_energy\\): its users may not choose "
                                        "'min_time'"):
        choose_policy(STRICT, "min_time", ear=True)


def test_settings_are_kept_per_organisation_and_default_to_none(database: Database) -> None:
    policies = EnergyPolicies(database)
    assert policies.get("acme") == EnergyPolicySetting(organisation="acme")
    policies.set(EXPERTS, actor="mo")
    policies.set(EnergyPolicySetting(organisation="umbrella", default_policy="min_energy"), actor="ub")
    assert policies.get("acme") == EXPERTS
    assert policies.get("umbrella").default_policy == "min_energy"
    policies.set(STRICT, actor="mo")
    assert policies.get("acme") == STRICT


def test_a_default_that_is_no_policy_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="not an EAR policy name"):
        EnergyPolicySetting(organisation="acme", default_policy="--ear=off")
