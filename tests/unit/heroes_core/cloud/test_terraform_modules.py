"""What the Terraform modules declare: IMDSv2 only, nodes that make their own host keys, nothing secret out.

These read the HCL text (providers cannot be downloaded here, so no plan runs);
the real Terraform binary renders the cloud-init template and evaluates the
variables' validations in ``tests/integration/test_cloud_nodes_moto.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from heroes_core.cloud.host_keys import HOST_KEY_BEGIN, HOST_KEY_END

MODULES = Path(__file__).resolve().parents[4] / "terraform"


def _bodies(text: str, header: str) -> list[tuple[re.Match[str], str]]:
    """Each match of ``header`` (ending in ``{``) with the body up to its matching brace."""
    found = []
    for match in re.finditer(header, text, re.M):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        found.append((match, text[match.end():end]))
    return found


def blocks(text: str, kind: str, type_: str) -> dict[str, str]:
    """``{name: body}`` of every top-level ``kind "type_" "name" { ... }`` block."""
    return {m.group(1): body for m, body in _bodies(text, rf'^{kind} "{type_}" "(\w+)" \{{')}


def nested(body: str, name: str) -> list[str]:
    """Bodies of the nested blocks ``name { ... }`` inside ``body``."""
    return [inner for _, inner in _bodies(body, rf"^\s*{name} \{{")]


def settings(body: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*(\w+)\s*=\s*("?[\w.-]*"?)', body, re.M))


def test_aws_instances_and_launch_templates_require_imdsv2_with_hop_limit_one() -> None:
    text = (MODULES / "aws" / "main.tf").read_text()
    launched = {**blocks(text, "resource", "aws_instance"), **blocks(text, "resource", "aws_launch_template")}
    assert set(launched) == {"headnode", "compute"}
    for name, body in launched.items():
        (options,) = nested(body, "metadata_options")
        assert settings(options) == {"http_endpoint": '"enabled"', "http_tokens": '"required"',
                                     "http_put_response_hop_limit": "1"}, name


def test_oci_instances_and_instance_configurations_disable_the_legacy_imds_endpoints() -> None:
    text = (MODULES / "oci" / "main.tf").read_text()
    (headnode,) = blocks(text, "resource", "oci_core_instance").values()
    (compute,) = blocks(text, "resource", "oci_core_instance_configuration").values()
    for body in (headnode, compute):
        (options,) = nested(body, "instance_options")
        assert settings(options) == {"are_legacy_imds_endpoints_disabled": "true"}


@pytest.mark.parametrize("folder", ["aws", "oci", "shared"])
def test_no_host_key_or_private_key_goes_into_the_module(folder: str) -> None:
    for path in (MODULES / folder).iterdir():
        text = path.read_text()
        assert "host_private_key" not in text and "PRIVATE KEY" not in text, path.name
        assert "ed25519_private" not in text and "ssh_keys" not in text, path.name


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_outputs_hold_nothing_secret_and_name_the_headnode(provider: str) -> None:
    text = "\n".join(path.read_text() for path in sorted((MODULES / provider).glob("*.tf")))
    outputs = {m.group(1): body for m, body in _bodies(text, r'^output "(\w+)" \{')}
    values = " ".join(outputs.values())
    for secret in ("access_key", "secret_key", "token", "private_key", "fingerprint", "sensitive"):
        assert secret not in values, secret
    assert {"headnode_address", "headnode_id", "service_account", "partitions"} <= set(outputs)
    assert "host_key" not in outputs


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_both_modules_use_the_one_shared_cloud_init_template(provider: str) -> None:
    """One template in ``shared/``, no copy per module (the real binary renders it through each module's
    own path in ``tests/integration/test_cloud_nodes_moto.py``)."""
    main_tf = (MODULES / provider / "main.tf").read_text()
    used = re.findall(r'templatefile\("([^"]+)"', main_tf)
    assert used == ["${path.module}/../shared/cloud-init.yaml.tpl"] * 2  # headnode and compute
    assert not list((MODULES / provider).glob("*.tpl"))


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_both_modules_link_the_shared_variables_and_outputs(provider: str) -> None:
    """Declared once in ``shared/``; each module links them, so a plain ``terraform`` run in the
    module folder and HEROES' copy of it (which follows the links) read the same declarations."""
    for name in ("cluster_variables.tf", "cluster_outputs.tf"):
        link = MODULES / provider / name
        assert link.is_symlink() and link.resolve() == (MODULES / "shared" / name).resolve()


def test_cloud_init_makes_host_keys_on_the_node_and_prints_the_public_key() -> None:
    template = (MODULES / "shared" / "cloud-init.yaml.tpl").read_text()
    assert re.search(r"^\s*ssh_deletekeys\s*=\s*true$", template, re.M)
    assert re.search(r'^\s*ssh_genkeytypes\s*=\s*\["ed25519"\]$', template, re.M)
    script = template[template.index("/var/lib/cloud/scripts/per-boot/"):]
    assert f'echo "{HOST_KEY_BEGIN}"\n' in script and f'echo "{HOST_KEY_END}"\n' in script
    assert "cat /etc/ssh/ssh_host_ed25519_key.pub\n" in script and "> /dev/console" in script
