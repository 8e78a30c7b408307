"""`heroes centre connect|status|disconnect`: the shared OpenSSH connection of a centre block,
with the block loader replaced and ssh scripted (tests/unit/heroes_core/test_openssh_transport.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from heroes.cli import app, centre
from heroes_core.sites import SiteConfig
from heroes_core.transport import OpenSSHTransport, _openssh
from tests.unit.heroes_core.test_openssh_transport import HOST_KEY, KEY, FakeSSH


def block(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> SiteConfig:
    config = SiteConfig(**({"name": "hpc1", "host": "login.example.org", "user": "svc", "private_key": KEY,
                            "host_keys": (HOST_KEY,), "work_root": "/w", "backend": "openssh"} | settings))
    monkeypatch.setattr(centre, "load_centre", lambda name: config)
    return config


@pytest.mark.parametrize("verb", ["", "connect", "status", "disconnect"])
def test_help_renders(verb: str) -> None:
    result = CliRunner().invoke(app, ["centre", *([verb] if verb else []), "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_a_centre_on_the_paramiko_backend_has_no_shared_connection_to_open(
        control_dir_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block(monkeypatch, backend="paramiko")
    result = CliRunner().invoke(app, ["centre", "connect", "hpc1"])
    assert result.exit_code == 1
    assert "does not use the 'openssh' backend (it uses 'paramiko')" in result.output
    assert "set backend to 'openssh'" in result.output


def test_status_of_a_centre_never_connected_says_so_and_exits_1(
        control_dir_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block(monkeypatch, mfa=True, private_key="")
    result = CliRunner().invoke(app, ["centre", "status", "hpc1"])
    assert result.exit_code == 1 and "[hpc1] no shared connection is open" in result.output


def test_connect_status_disconnect(control_dir_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = block(monkeypatch, control_persist_s=0)
    ssh = FakeSSH(OpenSSHTransport(config.ssh_config()).socket)
    monkeypatch.setattr(_openssh.subprocess, "run", ssh)
    runner = CliRunner()
    connected = runner.invoke(app, ["centre", "connect", "hpc1", "--batch"])
    assert connected.exit_code == 0, connected.output
    assert "master pid 4242" in connected.output and "until `heroes centre disconnect hpc1`" in connected.output
    status = runner.invoke(app, ["centre", "status", "hpc1"])
    assert status.exit_code == 0 and "shared connection open: master pid 4242" in status.output
    assert "Closed the shared connection" in runner.invoke(app, ["centre", "disconnect", "hpc1"]).output
    assert "No shared connection to hpc1 was open" in runner.invoke(app, ["centre", "disconnect", "hpc1"]).output


def test_a_refused_login_exits_1_with_the_error(control_dir_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = block(monkeypatch)
    ssh = FakeSSH(OpenSSHTransport(config.ssh_config()).socket,
                  master=(255, "svc@login.example.org: Permission denied (publickey).\n"))
    monkeypatch.setattr(_openssh.subprocess, "run", ssh)
    result = CliRunner().invoke(app, ["centre", "connect", "hpc1", "--batch"])
    assert result.exit_code == 1 and "[hpc1] svc@login.example.org:22 refused the key" in result.output
