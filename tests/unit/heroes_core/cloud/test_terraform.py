"""Terraform runner: generated backend/variables files and python-terraform's real command lines.

``subprocess.Popen`` inside python-terraform is replaced by a recorder, so the
argv checked here is exactly what would run; no provider is needed.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import python_terraform

from heroes_core.cloud.terraform import (
    BACKEND_FILE,
    PROVIDER_KEY_FILE,
    VARS_FILE,
    BackendConfig,
    TerraformError,
    TerraformRun,
    plan_markdown,
    state_key,
)

MODULES = Path(__file__).resolve().parents[4] / "terraform"
PLAN = {"terraform_version": "1.0.3", "resource_changes": [
    {"address": "aws_vpc.cluster", "type": "aws_vpc", "change": {"actions": ["create"]}},
    {"address": "aws_instance.headnode", "type": "aws_instance", "change": {"actions": ["delete", "create"]}},
    {"address": "aws_subnet.cluster", "type": "aws_subnet", "change": {"actions": ["no-op"]}}],
    "planned_values": {"outputs": {"headnode_address": {}}}}


class Recorder:
    def __init__(self, answers: dict[str, tuple[int, str, str]]) -> None:
        self.calls: list[tuple[list[str], str]] = []
        self.answers = answers

    def __call__(self, argv: list[str], **kwargs: Any) -> Any:
        self.calls.append((argv, kwargs["cwd"]))
        code, out, err = self.answers.get(argv[1], (0, "", ""))
        class Proc:
            returncode = code

            def communicate(self) -> tuple[bytes, bytes]:
                return out.encode(), err.encode()
        return Proc()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder({"plan": (2, "", ""), "show": (0, json.dumps(PLAN), ""),
                    "output": (0, json.dumps({"headnode_address": {"value": "203.0.113.7"},
                                              "partitions": {"value": ["cloud"]}}), "")})
    monkeypatch.setattr(python_terraform.subprocess, "Popen", rec)
    return rec


def test_terraform_state_lives_where_no_user_prefix_reaches() -> None:
    assert state_key("acme") == "_heroes/terraform/terraform.tfstate"
    with pytest.raises(ValueError, match="invalid organisation name"):
        state_key("ACME")
    with pytest.raises(ValueError, match="invalid organisation name"):
        state_key("../x")


def test_backend_hcl_for_the_archive() -> None:
    backend = BackendConfig.for_organisation("acme", "heroes-acme", endpoint_url="http://127.0.0.1:8333",
                                             access_key="AK", secret_key="S3CRET")  # type: ignore[arg-type]
    text = backend.hcl()
    assert 'bucket = "heroes-acme"\n' in text and 'key = "_heroes/terraform/terraform.tfstate"\n' in text
    assert 'endpoint = "http://127.0.0.1:8333"\n' in text and "force_path_style = true\n" in text
    assert 'secret_key = "S3CRET"' in text and "S3CRET" not in repr(backend)
    plain = BackendConfig.for_organisation("acme", "b").hcl()
    assert "endpoint" not in plain and "skip_" not in plain


def test_full_run_command_lines(recorder: Recorder, tmp_path: Path) -> None:
    work = tmp_path / "work"
    run = TerraformRun(MODULES / "aws", work, binary="/opt/terraform")
    assert run.working_dir == work / "aws"
    assert (work / "aws" / "main.tf").exists() and (work / "shared" / "cloud-init.yaml.tpl").exists()
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    work = run.working_dir
    run.init(BackendConfig.for_organisation("acme", "heroes-acme", secret_key="S3CRET"))  # type: ignore[arg-type]
    assert run.plan({"organisation": "acme", "secret_key": "AWS-SECRET"}) is True
    assert plan_markdown(run.show_plan(), title="t").count("| ") >= 2
    run.apply()
    assert run.outputs() == {"headnode_address": "203.0.113.7", "partitions": ["cloud"]}

    argvs = [argv for argv, cwd in recorder.calls]
    assert all(cwd == str(work) for _, cwd in recorder.calls)
    assert argvs[0] == ["/opt/terraform", "init", f"-backend-config={BACKEND_FILE}", "-reconfigure",
                        "-input=false", "-no-color"]
    assert argvs[1] == ["/opt/terraform", "plan", "-out=heroes.tfplan", f"-var-file={VARS_FILE}",
                        "-input=false", "-detailed-exitcode", "-no-color"]
    assert argvs[2] == ["/opt/terraform", "show", "-json", "-no-color", "heroes.tfplan"]
    assert argvs[3] == ["/opt/terraform", "apply", "-input=false", "-auto-approve", "-no-color",
                        "heroes.tfplan"]
    assert argvs[4] == ["/opt/terraform", "output", "-json", "-no-color"]
    assert not any("SECRET" in arg for argv in argvs for arg in argv)  # secrets only in 0600 files

    for name in (BACKEND_FILE, VARS_FILE):
        assert stat.S_IMODE((work / name).stat().st_mode) == 0o600
    assert json.loads((work / VARS_FILE).read_text())["secret_key"] == "AWS-SECRET"
    assert "S3CRET" in (work / BACKEND_FILE).read_text()
    run.cleanup()
    assert not (work / BACKEND_FILE).exists() and not (work / VARS_FILE).exists()


def test_cleanup_removes_the_provider_key_file_too(recorder: Recorder, tmp_path: Path) -> None:
    run = TerraformRun(MODULES / "oci", tmp_path)
    (run.working_dir / PROVIDER_KEY_FILE).write_text("-----BEGIN PRIVATE KEY-----\n")
    run.cleanup()
    assert not (run.working_dir / PROVIDER_KEY_FILE).exists()


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_the_copy_keeps_the_layout_so_the_shared_template_resolves(recorder: Recorder, tmp_path: Path,
                                                                    provider: str) -> None:
    """Each module reads ``${path.module}/../shared/...``: the run copies ``shared/`` next to it."""
    run = TerraformRun(MODULES / provider, tmp_path / "work")
    main_tf = (run.working_dir / "main.tf").read_text()
    used = set(re.findall(r'templatefile\("\$\{path\.module\}/([^"]+)"', main_tf))
    assert used == {"../shared/cloud-init.yaml.tpl"}
    for name in used:
        assert (run.working_dir / name).read_text() == (MODULES / provider / name).read_text()


def test_a_module_without_a_shared_sibling_is_copied_alone(recorder: Recorder, tmp_path: Path) -> None:
    module = tmp_path / "custom" / "mine"
    module.mkdir(parents=True)
    (module / "main.tf").write_text("")
    run = TerraformRun(module, tmp_path / "work")
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["mine"]
    assert (run.working_dir / "main.tf").exists()


def test_plan_without_changes(recorder: Recorder, tmp_path: Path) -> None:
    recorder.answers["plan"] = (0, "", "")
    assert TerraformRun(MODULES / "oci", tmp_path).plan({}) is False


def test_init_without_providers_is_a_clear_error(recorder: Recorder, tmp_path: Path) -> None:
    recorder.answers["init"] = (1, "", "Error: Failed to query available provider packages\n"
                                "Could not retrieve the list of available versions for provider "
                                "hashicorp/aws: could not connect to registry.terraform.io")
    with pytest.raises(TerraformError) as caught:
        TerraformRun(MODULES / "aws", tmp_path, site="aws:acme").init(BackendConfig(bucket="b", key="k"))
    assert caught.value.site == "aws:acme" and "registry.terraform.io" in str(caught.value)
    assert caught.value.fix and "provider mirror" in caught.value.fix


def test_plan_markdown() -> None:
    text = plan_markdown(PLAN, title="Cluster of acme")
    assert "1 to create, 1 to replace" in text and "`aws_instance.headnode`" in text
    assert "aws_subnet.cluster" not in text and "`headnode_address`" in text
