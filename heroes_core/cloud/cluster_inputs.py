"""The admin inputs of a private cloud cluster that reach its cloud-init, checked before Terraform runs.

``service_account``, ``partitions``, ``organisation``, ``cluster_name`` and the
service account's public key end up in the nodes' user-data (a user name, lines
of ``slurm.conf``, host names, ``authorized_keys``). A newline or a shell
character in any of them would add YAML, Slurm configuration or shell commands
that run as root on every node, so each must match a strict rule. The same
rules are ``validation {}`` blocks in ``terraform/{aws,oci}/variables.tf``
(a unit test compares the regexes), so a plain ``terraform plan`` refuses them
too; the cloud-init template also writes every value through ``yamlencode``.

The Terraform variables never carry private key material: the nodes generate
their own SSH host keys on first boot, and provider keys (OCI's API signing key)
go to a separate 0600 file whose *path* is the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from heroes_core.errors import SpecError
from heroes_core.models import ORGANISATION_PATTERN  # lower case: bucket and directory names stay injective

CLUSTER_NAME_PATTERN = ORGANISATION_PATTERN  # or "" for the organisation's name
SERVICE_ACCOUNT_PATTERN = r"^[a-z_][a-z0-9_-]{0,31}$"  # a portable POSIX user name
PARTITION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"  # a Slurm partition name
PUBLIC_KEY_PATTERN = (r"^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) "
                      r"[A-Za-z0-9+/]+={0,3}( [A-Za-z0-9@._-]+)?$")

_RETIRED = {"host_private_key", "host_public_key"}

__all__ = ["CLUSTER_NAME_PATTERN", "ORGANISATION_PATTERN", "PARTITION_PATTERN", "PUBLIC_KEY_PATTERN",
           "SERVICE_ACCOUNT_PATTERN", "validate_cluster_variables"]


def _text_rule(variables: Mapping[str, Any], name: str, pattern: str, what: str, fix: str, site: str) -> None:
    if name not in variables:
        return
    value = variables[name]
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise SpecError(f"{name} {value!r} is not {what} ({pattern})", site=site, fix=fix)


def validate_cluster_variables(variables: Mapping[str, Any], *, site: str) -> dict[str, Any]:
    """Return ``variables`` unchanged if every input that reaches cloud-init is safe; raise otherwise.

    Absent optional variables are fine (the module's defaults satisfy the rules);
    ``organisation`` is required. Raises :class:`SpecError` naming the site, the
    variable and its value, and the fix.
    """
    retired = sorted(_RETIRED & set(variables))
    if retired:
        raise SpecError(f"variable(s) {', '.join(retired)} are no longer accepted", site=site,
                        fix="remove them: every node generates its own SSH host key on first boot and "
                            "HEROES pins the public key it prints on the node's console")
    for name, value in variables.items():
        if "PRIVATE KEY" in str(value):
            raise SpecError(f"variable {name} holds private key material (a 'PRIVATE KEY' block); the "
                            "Terraform variables, plan and state must never contain one", site=site,
                            fix="pass a provider key as a file path variable, never a node or host key")
    if "organisation" not in variables:
        raise SpecError("the cluster's organisation is missing", site=site,
                        fix="pass the organisation's name (lower case, e.g. 'acme')")
    organisation = variables["organisation"]
    lower = str(organisation).lower()
    _text_rule(variables, "organisation", ORGANISATION_PATTERN, "a HEROES organisation name",
               (f"use '{lower}': organisation names are lower case" if lower != organisation and
                re.fullmatch(ORGANISATION_PATTERN, lower) else
                "use 3-40 lower-case letters, digits and '-', starting and ending with a letter or digit"),
               site)
    if variables.get("cluster_name", "") != "":
        _text_rule(variables, "cluster_name", CLUSTER_NAME_PATTERN, "a cluster name",
                   "leave it empty (the organisation's name) or use 3-40 lower-case letters, digits and "
                   "'-'", site)
    _text_rule(variables, "service_account", SERVICE_ACCOUNT_PATTERN, "a POSIX user name",
               "use 1-32 lower-case letters, digits, '_' and '-', starting with a letter or '_' "
               "(e.g. 'heroes')", site)
    _text_rule(variables, "service_account_public_key", PUBLIC_KEY_PATTERN, "one OpenSSH public key line",
               "give the key as 'ssh-ed25519 AAAA...' on one line, optionally with a one-word comment", site)
    if "partitions" in variables:
        _check_partitions(variables["partitions"], site)
    return dict(variables)


def _check_partitions(partitions: Any, site: str) -> None:
    fix = ("give a non-empty list of distinct Slurm partition names: letters, digits, '_' and '-', "
           "starting with a letter or digit, at most 64 characters (e.g. ['cloud', 'gpu'])")
    if not isinstance(partitions, list | tuple) or not partitions:
        raise SpecError(f"partitions {partitions!r} must be a non-empty list", site=site, fix=fix)
    for name in partitions:
        if not isinstance(name, str) or not re.fullmatch(PARTITION_PATTERN, name):
            raise SpecError(f"partitions: {name!r} is not a Slurm partition name ({PARTITION_PATTERN})",
                            site=site, fix=fix)
    duplicates = sorted({p for p in partitions if list(partitions).count(p) > 1})
    if duplicates:
        raise SpecError(f"partitions: {', '.join(duplicates)} listed more than once", site=site, fix=fix)
