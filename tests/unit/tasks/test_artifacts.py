"""Artifact keys built from users' names are always keys Prefect accepts, and never collide."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefect.client.schemas.actions import ArtifactCreate
from pydantic import ValidationError

from heroes.tasks.artifacts import artifact_key


def test_names_prefect_refuses_as_keys_become_valid_keys() -> None:
    with pytest.raises(ValidationError, match="must only contain lowercase letters, numbers, and dashes"):
        ArtifactCreate(key="workflow-summary-my_workflow.v2")  # what the summary used to build
    key = artifact_key("workflow-summary", "my_workflow.v2")
    assert ArtifactCreate(key=key).key == key
    assert key.startswith("workflow-summary-my-workflow-v2-")


def test_a_name_that_is_already_a_key_is_kept_as_it_is() -> None:
    assert artifact_key("billing", "acme-eu") == "billing-acme-eu"


@given(st.lists(st.text(max_size=120), min_size=1, max_size=3), st.lists(st.text(max_size=120),
                                                                            min_size=1, max_size=3))
def test_any_names_give_valid_keys_and_different_names_different_keys(a: list[str], b: list[str]) -> None:
    first, second = artifact_key(*a), artifact_key(*b)
    assert ArtifactCreate(key=first).key == first
    if "-".join(a) != "-".join(b):
        assert first != second
