"""Run the HEROES Runtime playbooks on a centre's login node with ansible-runner.

Ansible logs in as the centre's unprivileged service account (never ``become``),
with the account's key written to a private 0600 file for the length of the run
and the login node's pinned host key as the only known host
(``StrictHostKeyChecking=yes``): an unknown or changed host key stops the run.

A centre on the ``openssh`` backend (an MFA login node) is reached through its shared OpenSSH
master instead, with no key at all: Ansible's ssh takes the transport's own options
(``ansible_ssh_args``: the master's ControlPath, ``ControlMaster=no``, ``BatchMode=yes``, the
pinned host keys), and without an open master the run stops before Ansible starts, with the
transport's error and fix.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from heroes_core import assets
from heroes_core.errors import HeroesError, TransportError
from heroes_core.sites import SiteConfig
from heroes_core.transport import OpenSSHTransport, shared_openssh_transport

ANSIBLE_DIR_ENV = "HEROES_ANSIBLE_DIR"
RUNTIME_PLAYBOOK = "runtime.yml"
COMPLIANCE_PLAYBOOK = "compliance.yml"
STAMP = ".heroes/runtime.json"
_TAIL_LINES = 40


class DeploymentError(HeroesError):
    """The runtime could not be installed or checked on a centre."""


class PlaybookResult(BaseModel):
    """What one playbook run did on one centre."""

    model_config = ConfigDict(frozen=True)

    playbook: str
    check: bool
    ok: bool
    status: str
    rc: int | None
    changed: int
    failures: list[str] = Field(default_factory=list)
    changed_tasks: list[str] = Field(default_factory=list)
    stdout_tail: str = ""


def heroes_version() -> str:
    """The version of HEROES this platform runs: the one the runtime stamp must carry."""
    try:
        return metadata.version("heroes")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def ansible_dir() -> Path:
    """The ``ansible/`` folder (roles and playbooks): ``$HEROES_ANSIBLE_DIR`` or the installed one."""
    configured = os.environ.get(ANSIBLE_DIR_ENV)
    return Path(configured) if configured else assets.ansible_dir()


def runtime_extravars(config: SiteConfig, version: str | None = None) -> dict[str, Any]:
    """The role's variables for one centre, from its configuration."""
    return {
        "heroes_version": version or heroes_version(),
        "heroes_work_root": config.work_root.rstrip("/") or "/",
        "heroes_scheduler": config.scheduler,
        "heroes_container_runtime": config.container_runtime,
    }


def _known_hosts(config: SiteConfig) -> str:
    try:
        return config.ssh_config().known_hosts()
    except OSError as exc:
        raise DeploymentError(f"the known_hosts file {config.known_hosts_path} cannot be read: {exc}",
                              site=config.name,
                              fix="point the block's known_hosts_path at a readable file") from exc


def through_master(config: SiteConfig) -> bool:
    """Whether Ansible reaches the centre through its shared OpenSSH master (no key of its own)."""
    return config.transport == "ssh" and config.backend == "openssh"


def _master(config: SiteConfig) -> OpenSSHTransport:
    return shared_openssh_transport(config.ssh_config())


def inventory_for(config: SiteConfig, key_file: str | None, known_hosts_file: str) -> dict[str, Any]:
    """A one-host inventory: the login node, as the service account, with pinned host keys (on
    the 'openssh' backend, through the shared master, and ``key_file`` is not used)."""
    if config.transport == "local":
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        return {"all": {"hosts": {config.name: local}}}
    host: dict[str, Any] = {
        "ansible_host": config.host,
        "ansible_port": config.port,
        "ansible_user": config.user,
        "ansible_python_interpreter": "auto_silent",
        "ansible_become": False,
    }
    if through_master(config):
        # ssh_args replace Ansible's own (ControlMaster=auto, ControlPersist): only the master.
        host["ansible_ssh_args"] = shlex.join(_master(config).login_options())
    else:
        host["ansible_ssh_private_key_file"] = key_file
        host["ansible_ssh_common_args"] = " ".join([
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={shlex.quote(known_hosts_file)}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes",
            "-o", "PasswordAuthentication=no",
            "-o", f"ConnectTimeout={int(config.connect_timeout)}",
        ])
    return {"all": {"hosts": {config.name: host}}}


def _check_master(config: SiteConfig) -> None:
    """An 'openssh' centre's master must be open (opened here if HEROES may log in alone)."""
    try:
        _master(config).connect()
    except TransportError as exc:
        raise DeploymentError(exc.detail, site=exc.site or config.name, fix=exc.fix) from exc


def _failure_text(event: Mapping[str, Any]) -> str:
    data = event.get("event_data", {})
    result = data.get("res", {}) or {}
    message = str(result.get("msg") or result.get("stderr") or result.get("reason") or "").strip()
    if not message and result.get("results"):
        message = "; ".join(str(item.get("msg", "")) for item in result["results"]
                            if item.get("failed"))
    return f"{data.get('task', '?')}: {message or 'failed'}"


def summarise(playbook: str, check: bool, status: str, rc: int | None,
              events: list[Mapping[str, Any]], stdout: str) -> PlaybookResult:
    """A :class:`PlaybookResult` from ansible-runner's events (also used by the unit tests)."""
    failures: list[str] = []
    changed_tasks: list[str] = []
    for event in events:
        kind = event.get("event")
        data = event.get("event_data", {})
        if kind == "runner_on_unreachable":
            failures.append(f"unreachable: {_failure_text(event)}")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            failures.append(_failure_text(event))
        elif kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
            changed_tasks.append(str(data.get("task", "?")))
    tail = "\n".join(stdout.strip().splitlines()[-_TAIL_LINES:])
    ok = status == "successful" and rc == 0 and not failures
    if not ok and not failures:
        failures.append(f"ansible-playbook ended {status} (exit {rc})")
    return PlaybookResult(playbook=playbook, check=check, ok=ok, status=status, rc=rc,
                          changed=len(changed_tasks), failures=failures,
                          changed_tasks=changed_tasks, stdout_tail=tail)


def run_playbook(config: SiteConfig, playbook: str = RUNTIME_PLAYBOOK, *, check: bool = False,
                 extravars: Mapping[str, Any] | None = None, timeout: int = 600,
                 playbook_dir: Path | None = None) -> PlaybookResult:
    """Run ``playbook`` (a file in ``ansible/playbooks``) against the centre's login node.

    ``check=True`` (always for the compliance playbook) runs ``--check --diff``: nothing
    is changed and ``changed`` counts what would have been.
    """
    import ansible_runner  # type: ignore[import-untyped]

    base = playbook_dir or ansible_dir()
    path = base / "playbooks" / playbook
    if not path.is_file():
        raise DeploymentError(f"playbook {path} does not exist", site=config.name,
                              fix=f"install the HEROES ansible/ folder or set {ANSIBLE_DIR_ENV}")
    check = check or playbook == COMPLIANCE_PLAYBOOK
    variables = {**runtime_extravars(config), **(extravars or {})}
    bin_dir = str(Path(sys.executable).parent)
    if through_master(config):
        _check_master(config)
    with tempfile.TemporaryDirectory(prefix="heroes-ansible-") as tmp:
        os.chmod(tmp, 0o700)
        os.mkdir(os.path.join(tmp, "run"), 0o700)
        key_file = None if through_master(config) else _write_key(config, tmp)
        known_hosts_file = os.path.join(tmp, "known_hosts")
        Path(known_hosts_file).write_text(_known_hosts(config) + "\n")
        envvars = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "ANSIBLE_ROLES_PATH": str(base / "roles"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "local"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": os.path.join(tmp, "cp"),
            "ANSIBLE_NOCOLOR": "True",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        }
        old_path = os.environ.get("PATH")
        os.environ["PATH"] = envvars["PATH"]  # ansible-runner looks ansible-playbook up on PATH
        try:
            runner = ansible_runner.run(
                private_data_dir=os.path.join(tmp, "run"), playbook=str(path),
                inventory=inventory_for(config, key_file, known_hosts_file),
                extravars=variables, envvars=envvars,
                cmdline="--check --diff" if check else None,
                quiet=True, timeout=timeout, suppress_env_files=True,
            )
        finally:
            if old_path is None:
                os.environ.pop("PATH", None)
            else:
                os.environ["PATH"] = old_path
        stdout = runner.stdout.read() if runner.stdout else ""
        events = list(runner.events)
    return summarise(playbook, check, str(runner.status), runner.rc, events, stdout)


def _write_key(config: SiteConfig, directory: str) -> str:
    """The service account's key in a 0600 file of ``directory``, for the length of the run."""
    key_file = os.path.join(directory, "id_service")
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        key = config.private_key.get_secret_value()
        handle.write(key if key.endswith("\n") else key + "\n")
    return key_file


class EnrolmentRefused(DeploymentError):
    """A centre failed a prerequisite (or the runtime could not be installed): not enrolled."""


class NotCompliant(DeploymentError):
    """An enrolled centre no longer matches what HEROES expects."""
