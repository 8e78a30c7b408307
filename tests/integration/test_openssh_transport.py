"""The OpenSSH backend against real sshd servers: the test bed's login node, and a private copy of
it (same configuration, host key and accounts, its own port and log) where the test can count
every connection and authentication the server saw."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbed_config import state_dir  # scripts/testbed, put on the path by conftest.py
from typer.testing import CliRunner

from heroes.cli import app, centre
from heroes_core import jobs
from heroes_core.errors import AuthenticationError, ConnectionLostError, HostKeyError
from heroes_core.models import UserArea
from heroes_core.schedulers import Scheduler
from heroes_core.sites import open_site
from heroes_core.transport import CONTROL_DIR_ENV, OpenSSHTransport, SSHConfig
from tests.integration.openssh import openssh_config as config
from tests.integration.openssh import openssh_site_config
from tests.integration.processes import stop
from tests.scheduler_contract import SchedulerContract

ROOT = Path(__file__).resolve().parents[2]
TESTBED_SSHD_CONFIG = state_dir() / "sshd" / "sshd_config"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _banner(port: int) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            return conn.recv(64)
    except OSError:
        return b""


@pytest.fixture
def counted_sshd(testbed: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The test bed's login node configuration on a free port, logging to a file of its own."""
    base = [line for line in TESTBED_SSHD_CONFIG.read_text().splitlines()
            if not re.match(r"^(Port|PidFile)\b", line)]
    log_path = tmp_path / "sshd.log"
    for _attempt in range(5):  # another process may take the free port before sshd binds it
        port = _free_port()
        config_file = tmp_path / "sshd_config"
        config_file.write_text("\n".join([*base, f"Port {port}", f"PidFile {tmp_path}/sshd.pid"]) + "\n")
        server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-E", str(log_path), "-f", str(config_file)],
                                  stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline and not _banner(port):
            time.sleep(0.1)
        if server.poll() is None and _banner(port).startswith(b"SSH-2.0-"):
            break
        server.kill()
        server.wait()
    else:
        pytest.fail(f"the private sshd did not start:\n{log_path.read_text()}")
    try:
        yield {"port": port, "log": log_path}
    finally:
        stop(server)


def logins(log: Path, user: str) -> int:
    """Authentications the server accepted for ``user``: one per SSH connection made."""
    return log.read_text().count(f"Accepted publickey for {user} from")


# A process of its own: a fresh interpreter opening the transport from the configuration given as
# JSON, running `id -un` and printing what it got and which master served it.
CHILD = """
import json, sys
from heroes_core.transport import OpenSSHTransport, SSHConfig
settings = json.loads(sys.argv[1])
transport = OpenSSHTransport(SSHConfig(**settings), base_dir=sys.argv[2])
result = transport.check(["id", "-un"])
print(json.dumps({"user": result.stdout.strip(), "master": transport.status().pid,
                  "opened": transport.masters_opened}))
"""


def child(settings: SSHConfig, base: Path) -> subprocess.Popen[str]:
    payload = settings.model_dump(mode="json") | {"private_key": settings.private_key.get_secret_value()}
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(payload), str(base)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def outcome(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def test_commands_run_through_the_openssh_backend_with_arguments_verbatim(
        centre_info: dict[str, Any], control_base: Path) -> None:
    transport = OpenSSHTransport(config(centre_info), base_dir=control_base)
    assert transport.check(["id", "-un"]).stdout.strip() == centre_info["user"]
    hostile = ["$(touch /tmp/heroes-pwned)", "; touch /tmp/heroes-pwned", "a\nb", "'\"", "*"]
    assert transport.check(["printf", "%s\\0", *hostile]).stdout.split("\0")[:-1] == hostile
    assert transport.run(["test", "-e", "/tmp/heroes-pwned"]).exit_code == 1
    assert transport.run(["sh", "-c", "echo oops >&2; exit 255"]).exit_code == 255  # the command's own
    assert transport.masters_opened == 1


def test_a_file_sent_on_stdin_arrives_whole_and_reads_back(
        centre_info: dict[str, Any], control_base: Path) -> None:
    transport = OpenSSHTransport(config(centre_info), base_dir=control_base)
    content = ("".join(f"line {n} {uuid.uuid4().hex}\n" for n in range(30_000))).encode()  # ~1.3 MB
    path = f"/tmp/heroes-openssh-{uuid.uuid4().hex}"
    transport.check(["sh", "-c", 'cat > "$1"', "sh", path], stdin=content)
    try:
        assert transport.check(["cat", path]).stdout.encode() == content
    finally:
        transport.check(["rm", "-f", path])


def test_two_processes_share_one_master_and_one_authentication(
        centre_info: dict[str, Any], counted_sshd: dict[str, Any], control_base: Path) -> None:
    settings = config(centre_info, port=counted_sshd["port"])
    first, second = child(settings, control_base), child(settings, control_base)  # racing to open the master
    results = [outcome(first), outcome(second)]
    assert [r["user"] for r in results] == [centre_info["user"]] * 2
    assert results[0]["master"] == results[1]["master"] is not None
    assert sorted(r["opened"] for r in results) == [0, 1]  # one opened it, the other found it
    # A third process without any key (an MFA centre's configuration) uses the same connection.
    keyless = outcome(child(config(centre_info, port=counted_sshd["port"], private_key="", mfa=True), control_base))
    assert (keyless["user"], keyless["master"]) == (centre_info["user"], results[0]["master"])
    assert logins(counted_sshd["log"], centre_info["user"]) == 1


def test_a_keyless_mfa_centre_without_its_master_fails_at_once_without_reaching_the_centre(
        centre_info: dict[str, Any], counted_sshd: dict[str, Any], control_base: Path) -> None:
    transport = OpenSSHTransport(config(centre_info, port=counted_sshd["port"], private_key="", mfa=True),
                                 base_dir=control_base)
    before = counted_sshd["log"].read_text()
    with pytest.raises(AuthenticationError, match=r"^\[local-slurm\] no shared SSH connection to "
                                                  r".*is open.*`heroes centre connect local-slurm`"):
        transport.run(["id", "-un"])
    assert counted_sshd["log"].read_text() == before


def test_a_keyless_centre_whose_master_died_fails_fast_with_the_same_fix(
        centre_info: dict[str, Any], counted_sshd: dict[str, Any], control_base: Path) -> None:
    opener = OpenSSHTransport(config(centre_info, port=counted_sshd["port"]), base_dir=control_base)
    pid = opener.connect().pid
    assert pid is not None
    keyless = OpenSSHTransport(config(centre_info, port=counted_sshd["port"], private_key="", mfa=True),
                               base_dir=control_base)
    assert keyless.check(["true"]).ok
    os.kill(pid, signal.SIGKILL)  # dies without removing its socket: ssh tries on its own, in batch mode
    with pytest.raises(AuthenticationError, match=r"heroes centre connect local-slurm"):
        keyless.run(["true"])


def test_a_wrong_host_key_is_refused_and_no_master_is_left(centre_info: dict[str, Any], control_base: Path) -> None:
    transport = OpenSSHTransport(config(centre_info, host_keys=(OTHER_KEY,)), base_dir=control_base)
    with pytest.raises(HostKeyError, match=r"^\[local-slurm\] the host key of 127.0.0.1:2222 is ED25519 "
                                           r"SHA256:\S+, which is not the pinned key \(ssh-ed25519 "
                                           r"SHA256:\S+\); refusing to connect.*Fix: confirm"):
        transport.check(["true"])
    assert not transport.socket.exists() and not transport.status().open


def test_a_revoked_host_key_is_refused_even_though_it_is_also_pinned(
        centre_info: dict[str, Any], control_base: Path) -> None:
    cfg = config(centre_info, host_keys=(centre_info["host_key"], f"@revoked {centre_info['host_key']}"))
    with pytest.raises(HostKeyError, match="revoked"):
        OpenSSHTransport(cfg, base_dir=control_base).check(["true"])


def test_a_submission_is_not_resent_when_the_master_dies_under_it_but_a_query_is(
        centre_info: dict[str, Any], control_base: Path) -> None:
    transport = OpenSSHTransport(config(centre_info), base_dir=control_base)

    def kill_master_soon() -> None:
        pid = transport.connect().pid
        assert pid is not None
        threading.Timer(0.5, os.kill, (pid, signal.SIGTERM)).start()

    kill_master_soon()
    with pytest.raises(ConnectionLostError, match=r"\[local-slurm\] link dropped while `sh` ran"):
        transport.run(["sh", "-c", "sleep 2; echo done"], idempotent=False)
    kill_master_soon()
    assert transport.check(["sh", "-c", "sleep 2; echo done"]).stdout.strip() == "done"
    assert transport.masters_opened == 3


def test_the_centre_command_opens_checks_and_closes_the_shared_connection(
        centre_info: dict[str, Any], control_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROL_DIR_ENV, str(control_base))
    site = openssh_site_config(centre_info)
    monkeypatch.setattr(centre, "load_centre", lambda name: site)
    runner = CliRunner()
    assert runner.invoke(app, ["centre", "status", "local-slurm"]).exit_code == 1
    connected = runner.invoke(app, ["centre", "connect", "local-slurm", "--batch"])
    assert connected.exit_code == 0, connected.output
    pid = int(re.search(r"master pid (\d+)", connected.output).group(1))  # type: ignore[union-attr]
    status = runner.invoke(app, ["centre", "status", "local-slurm"])
    assert status.exit_code == 0 and f"master pid {pid}" in status.output
    # A flow's site (mfa: it may only use what the admin opened) runs over that master.
    flows = open_site(site.model_copy(update={"mfa": True, "private_key": config(centre_info, private_key="")
                                              .private_key}))
    assert flows.transport.check(["id", "-un"]).stdout.strip() == centre_info["user"]
    assert isinstance(flows.transport, OpenSSHTransport) and flows.transport.status().pid == pid
    assert "Closed" in runner.invoke(app, ["centre", "disconnect", "local-slurm"]).output
    with pytest.raises(AuthenticationError, match="heroes centre connect local-slurm"):
        flows.transport.run(["id"])


class TestSlurmContractOverOpenSSH(SchedulerContract):
    """The scheduler contract on the test bed's Slurm with every command sent through the OpenSSH
    backend's shared master."""

    @pytest.fixture
    def openssh_site(self, centre_info: dict[str, Any], control_base: Path,  # type: ignore[no-untyped-def]
                     monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv(CONTROL_DIR_ENV, str(control_base))
        return open_site(openssh_site_config(centre_info, partitions=tuple(centre_info["partitions"]),
                                             container_runtime="charliecloud"))

    @pytest.fixture
    def scheduler(self, openssh_site) -> Scheduler:  # type: ignore[no-untyped-def]
        assert isinstance(openssh_site.transport, OpenSSHTransport)
        scheduler: Scheduler = openssh_site.scheduler
        return scheduler

    @pytest.fixture
    def job_dir(self, openssh_site) -> str:  # type: ignore[no-untyped-def]
        area = UserArea(organisation="itest", user="contract")
        return jobs.ensure_job_directory(openssh_site, area, f"contract-{uuid.uuid4().hex[:12]}")
