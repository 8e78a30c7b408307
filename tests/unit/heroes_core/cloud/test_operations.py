"""Cluster-level node operations: which nodes a hook or an undeploy may touch."""

from __future__ import annotations

import pytest

from heroes_core.cloud import temporary_tags
from heroes_core.cloud.base import TAG_ORGANISATION, TAG_ROLE, TAG_WORKFLOW


def test_temporary_tags_select_an_organisations_temporary_nodes_of_one_workflow() -> None:
    assert temporary_tags("acme") == {TAG_ORGANISATION: "acme", TAG_ROLE: "temporary"}
    assert temporary_tags("acme", "wf-1") == {TAG_ORGANISATION: "acme", TAG_ROLE: "temporary",
                                              TAG_WORKFLOW: "wf-1"}
    with pytest.raises(ValueError, match="organisation"):
        temporary_tags("")
