"""The runtime role and its runner: inventory, result summary, and a real local run of the role."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from heroes_core.enrolment import (
    DeploymentError,
    PlaybookResult,
    inventory_for,
    run_playbook,
    runtime_checks,
    runtime_extravars,
    summarise,
)
from heroes_core.sites import SiteConfig
from heroes_core.transport import OpenSSHTransport
from tests.unit.heroes_core.test_openssh_transport import option

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEO/wtsYMJgFCVmnhNS8fkvlKiTYJSGPVMCfSGSBQSB+"


def config(**overrides: object) -> SiteConfig:
    fields: dict[str, object] = {"name": "hpc1", "host": "login.example", "port": 2222, "user": "svc",
                                 "private_key": SecretStr("KEY"), "host_keys": (HOST_KEY,),
                                 "work_root": "/scratch/heroes/", "container_runtime": "charliecloud"}
    fields.update(overrides)
    return SiteConfig(**fields)  # type: ignore[arg-type]


def test_inventory_pins_the_host_key_and_never_becomes_root() -> None:
    host = inventory_for(config(), "/tmp/k", "/tmp/known hosts")["all"]["hosts"]["hpc1"]
    assert host["ansible_user"] == "svc" and host["ansible_port"] == 2222
    assert host["ansible_become"] is False
    args = host["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in args and "UserKnownHostsFile='/tmp/known hosts'" in args
    assert "accept-new" not in args and "StrictHostKeyChecking=no" not in args


@pytest.mark.usefixtures("control_dir_env")
def test_an_mfa_centres_inventory_goes_only_through_its_shared_master_with_no_key() -> None:
    mfa = config(backend="openssh", mfa=True, private_key="")
    host = inventory_for(mfa, None, "/tmp/known hosts")["all"]["hosts"]["hpc1"]
    args = shlex.split(host["ansible_ssh_args"])  # Ansible's own (ControlMaster=auto, ...) replaced
    assert args == OpenSSHTransport(mfa.ssh_config()).login_options()
    assert option(args, "ControlPath") == str(OpenSSHTransport(mfa.ssh_config()).socket)
    assert option(args, "ControlMaster") == "no" and option(args, "BatchMode") == "yes"
    assert option(args, "IdentityFile") == "none" and option(args, "StrictHostKeyChecking") == "yes"
    assert "-p" not in args and "-l" not in args  # Ansible's sftp and scp take these options too
    assert "ansible_ssh_private_key_file" not in host and "ansible_ssh_common_args" not in host
    assert (host["ansible_user"], host["ansible_port"], host["ansible_become"]) == ("svc", 2222, False)


@pytest.mark.usefixtures("control_dir_env")
def test_an_mfa_centre_without_its_master_stops_before_ansible_runs_with_the_transports_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ansible_runner  # type: ignore[import-untyped]

    def never(**kwargs: object) -> None:
        raise AssertionError("ansible ran without a master")

    monkeypatch.setattr(ansible_runner, "run", never)
    with pytest.raises(DeploymentError, match=r"^\[hpc1\] no shared SSH connection to svc@login.example:2222 "
                                              r"is open.*Fix: .*`heroes centre connect hpc1`"):
        run_playbook(config(backend="openssh", mfa=True, private_key=""), check=True)


def test_extravars_follow_the_block() -> None:
    assert runtime_extravars(config(), "9.9") == {
        "heroes_version": "9.9", "heroes_work_root": "/scratch/heroes", "heroes_scheduler": "slurm",
        "heroes_container_runtime": "charliecloud"}


def test_summary_counts_changed_tasks_and_names_failures() -> None:
    events = [
        {"event": "runner_on_ok", "event_data": {"task": "Work root", "res": {"changed": True}}},
        {"event": "runner_on_ok", "event_data": {"task": "Stamp", "res": {"changed": False}}},
        {"event": "runner_on_failed", "event_data": {"task": "Probe", "ignore_errors": True,
                                                     "res": {"msg": "ignored"}}},
    ]
    result = summarise("runtime.yml", True, "successful", 0, events, "a\nb\n")
    assert result.ok and result.changed == 1 and result.changed_tasks == ["Work root"]
    assert result.stdout_tail == "a\nb"
    failed = summarise("runtime.yml", False, "failed", 2, [
        {"event": "runner_on_failed", "event_data": {"task": "Scheduler commands are on PATH",
                                                     "res": {"stderr": "missing: sacct"}}},
        {"event": "runner_on_unreachable", "event_data": {"task": "Work root",
                                                          "res": {"msg": "Host key verification failed."}}},
    ], "")
    assert not failed.ok and failed.failures == [
        "Scheduler commands are on PATH: missing: sacct",
        "unreachable: Work root: Host key verification failed."]
    assert summarise("x", False, "timeout", 254, [], "").failures == ["ansible-playbook ended timeout (exit 254)"]


def test_runtime_checks_need_the_stamp_the_version_and_no_change() -> None:
    clean = PlaybookResult(playbook="compliance.yml", check=True, ok=True, status="successful", rc=0,
                           changed=0)
    assert all(r.ok for r in runtime_checks({"version": "1.0"}, "1.0", clean))
    drift = clean.model_copy(update={"changed": 1, "changed_tasks": ["Work root exists"]})
    results = {r.name: r for r in runtime_checks(None, "1.0", drift)}
    assert not results["runtime present"].ok and not results["runtime version"].ok
    assert not results["configuration"].ok and "Work root exists" in results["configuration"].detail
    assert results["configuration"].fix and "enroll-hpc-centre" in results["configuration"].fix


def test_an_unknown_playbook_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match=r"\[hpc1\].*does not exist.*HEROES_ANSIBLE_DIR"):
        run_playbook(config(), "nope.yml", playbook_dir=tmp_path)


@pytest.fixture
def local_centre(tmp_path: Path) -> SiteConfig:
    root = tmp_path / "work"
    (root / "acme" / "ada").mkdir(parents=True)
    (root / "acme").chmod(0o755)
    (root / ".images").mkdir()
    (root / ".images").chmod(0o755)
    return config(transport="local", work_root=str(root), scheduler="local")


def test_the_role_installs_idempotently_and_check_mode_changes_nothing(local_centre: SiteConfig) -> None:
    # `true --version` stands in for the container runtime: no container tools needed here
    probe = {"heroes_runtime_binaries": {"charliecloud": "true"}}
    root = Path(local_centre.work_root)
    first = run_playbook(local_centre, extravars=probe)
    assert first.ok and first.changed >= 3, first.stdout_tail
    stamp = json.loads((root / ".heroes" / "runtime.json").read_text())
    assert stamp["version"] == runtime_extravars(local_centre)["heroes_version"]
    assert stamp["facts"]["ear_found"] is False and stamp["facts"]["scheduler"] == "local"
    for path in (root, root / ".heroes", root / "acme", root / "acme" / "ada"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
    assert stat.S_IMODE(os.stat(root / ".images").st_mode) == 0o755  # caches are left alone

    second = run_playbook(local_centre, extravars=probe)
    assert second.ok and second.changed == 0, second.changed_tasks
    assert json.loads((root / ".heroes" / "runtime.json").read_text()) == stamp  # installed_at kept

    (root / "acme").chmod(0o755)
    (root / ".heroes" / "runtime.json").unlink()
    check = run_playbook(local_centre, "compliance.yml", extravars=probe)
    assert check.check and check.ok and check.changed == 2, check.changed_tasks
    assert stat.S_IMODE(os.stat(root / "acme").st_mode) == 0o755  # nothing was changed
    assert not (root / ".heroes" / "runtime.json").exists()
