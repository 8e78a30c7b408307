"""A cluster's Terraform outputs and its headnode's host key."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from pydantic import ValidationError

from heroes_core.cloud import NodeProvider
from heroes_core.cloud.headnode import ClusterOutputs, headnode_host_key
from heroes_core.errors import HostKeyError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"


def outputs(**values: object) -> ClusterOutputs:
    return ClusterOutputs.model_validate({"headnode_address": "203.0.113.7", "headnode_id": "i-1",
                                          "service_account": "heroes", **values})


def console(*keys: str) -> MagicMock:
    nodes = MagicMock(spec=NodeProvider)
    nodes.read_host_keys.return_value = list(keys)
    return nodes


def test_outputs_a_module_left_out_or_null_take_the_defaults() -> None:
    read = outputs(partitions=["cloud", "gpu"], work_root=None, container_runtime=None,
                   launch_template_id="lt-1", cluster="acme")
    assert (read.partitions, read.work_root, read.container_runtime) == (
        ("cloud", "gpu"), "/shared/heroes", "apptainer")


def test_outputs_without_the_headnode_address_or_an_unknown_runtime_are_refused() -> None:
    with pytest.raises(ValidationError, match="headnode_address"):
        ClusterOutputs.model_validate({"service_account": "heroes"})
    with pytest.raises(ValidationError, match="container_runtime"):
        outputs(container_runtime="docker")


def test_the_key_the_headnode_printed_is_pinned() -> None:
    nodes = console(KEY)
    assert headnode_host_key(nodes, outputs(), None, site="aws:acme", timeout=5) == KEY
    nodes.read_host_keys.assert_called_once_with("i-1", timeout=5)


def test_a_key_other_than_the_one_pinned_before_is_refused() -> None:
    with pytest.raises(HostKeyError, match="differs"):
        headnode_host_key(console(OTHER), outputs(), KEY, site="aws:acme", timeout=0)
    assert headnode_host_key(console(), outputs(), KEY, site="aws:acme", timeout=0) == KEY


def test_outputs_that_name_no_headnode_are_refused_before_any_console_is_read() -> None:
    nodes = console(KEY)
    with pytest.raises(HostKeyError, match="name no headnode_id") as refused:
        headnode_host_key(nodes, outputs(headnode_id=None), None, site="aws:acme", timeout=0)
    assert refused.value.site == "aws:acme"
    nodes.read_host_keys.assert_not_called()

