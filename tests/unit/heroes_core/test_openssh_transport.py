"""The OpenSSH backend without a server: the ssh command lines it builds, the socket directory it
keeps, and what each way ssh can fail becomes. ``subprocess.run`` is replaced by a scripted ssh
that answers as OpenSSH 9 does (its messages copied from real runs against the test bed)."""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from heroes_core.errors import (
    AuthenticationError,
    CommandTimeoutError,
    ConnectionLostError,
    HostKeyError,
    TransportError,
    UnreachableError,
)
from heroes_core.sites import SiteConfig, open_site
from heroes_core.transport import (
    CONTROL_DIR_ENV,
    OpenSSHTransport,
    SSHConfig,
    SSHTransport,
    _openssh,
    control_dir,
    shell_join,
)

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIPyKhacw23JdrN1mG1Gy+UljGHufUAPhaUOzen3xtBP"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n"

CHANGED = """@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
The fingerprint for the ED25519 key sent by the remote host is
SHA256:A9Fa+NzGzKkkotS53XzSAt1HRBYV8m3M4o0QRJ6G7J8.
Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.
Host key verification failed.
"""
REVOKED = """@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@       WARNING: REVOKED HOST KEY DETECTED!               @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
The ED25519 host key for [127.0.0.1]:2222 is marked as revoked.
Host key verification failed.
"""
DENIED = "svc@127.0.0.1: Permission denied (publickey).\n"
NO_SOCKET = "Control socket connect(/x/m-1): No such file or directory\n" + DENIED
REFUSED = "ssh: connect to host 127.0.0.1 port 2222: Connection refused\n"
NO_SESSION = "mux_client_request_session: session request failed: Session open refused by peer\n"
BROKEN = "mux_client_read_packet: read header failed: Broken pipe\n"


@pytest.fixture
def base() -> Iterator[Path]:
    """A short private directory (a Unix socket path is at most ~100 bytes; pytest's are long)."""
    path = Path(tempfile.mkdtemp(prefix="hs-", dir="/tmp"))
    yield path / "ssh"
    shutil.rmtree(path)


def config(**overrides: Any) -> SSHConfig:
    values: dict[str, Any] = {"site": "hpc1", "host": "login.example.org", "port": 2222, "user": "svc",
                              "private_key": KEY, "host_keys": (HOST_KEY,), "backend": "openssh",
                              "reconnect_attempts": 3}
    return SSHConfig(**(values | overrides))


def option(argv: list[str], name: str) -> str | None:
    """The value of ``-o name=value`` in an ssh argv (the first, as ssh takes it)."""
    for flag, value in itertools.pairwise(argv):
        if flag == "-o" and value.startswith(name + "="):
            return value.split("=", 1)[1]
    return None


@dataclass
class FakeSSH:
    """ssh as subprocess.run sees it: a master that opens (creating its socket) or fails as
    scripted, ``-O check|exit`` answered from the socket, commands answered from a script."""

    socket: Path
    master: tuple[int, str] = (0, "")
    commands: list[tuple[int, str]] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    key_modes: list[int] = field(default_factory=list)
    alive: bool = False

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        self.calls.append(argv)
        if "-O" in argv:
            operation = argv[argv.index("-O") + 1]
            if operation == "exit" and self.alive:
                self.alive = False
                self.socket.unlink()
            said = "Master running (pid=4242)\n" if self.alive else NO_SOCKET
            return subprocess.CompletedProcess(argv, 0 if self.alive else 255, "", said)
        if option(argv, "ControlMaster") == "yes":
            identity = option(argv, "IdentityFile")
            if identity and identity != "none":
                self.key_modes.append(stat.S_IMODE(os.stat(identity).st_mode))
            code, said = self.master
            if code == 0:
                self.alive = True
                self.socket.write_text("")
            kwargs["stderr"].write(said)
            return subprocess.CompletedProcess(argv, code, None, None)
        if not self.commands:
            raise AssertionError(f"unexpected command {argv}")
        code, said = self.commands.pop(0)
        if code == "timeout":
            raise subprocess.TimeoutExpired(argv, kwargs["timeout"])
        return subprocess.CompletedProcess(argv, code, b"out", said.encode())

    def sent(self) -> list[list[str]]:
        return [argv for argv in self.calls if "-O" not in argv and option(argv, "ControlMaster") == "no"]


def fake(monkeypatch: pytest.MonkeyPatch, transport: OpenSSHTransport, **script: Any) -> FakeSSH:
    ssh = FakeSSH(transport.socket, **script)
    monkeypatch.setattr(_openssh.subprocess, "run", ssh)
    monkeypatch.setattr(_openssh, "_SESSION_REFUSED_BACKOFF", 0.0)
    return ssh


# -- the command lines ------------------------------------------------------------------------


def test_a_command_goes_only_through_the_shared_master_and_never_prompts(base: Path) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    argv = transport.command_argv(["printf", "%s", "a b; rm -rf /"])
    assert argv[0] == "ssh" and argv[1:3] == ["-F", "/dev/null"]
    assert option(argv, "ControlMaster") == "no"
    assert option(argv, "ControlPath") == str(transport.socket) and transport.socket.parent == base
    assert option(argv, "BatchMode") == "yes"
    assert option(argv, "IdentitiesOnly") == "yes" and option(argv, "IdentityFile") == "none"
    assert option(argv, "PasswordAuthentication") == option(argv, "KbdInteractiveAuthentication") == "no"
    assert argv[-3:] == ["--", "login.example.org", shell_join(["printf", "%s", "a b; rm -rf /"])]
    assert option(argv, "Port") == "2222" and option(argv, "User") == "svc"
    assert "-p" not in argv and "-l" not in argv  # sftp and scp, given the same options, read them otherwise


def test_another_tools_ssh_goes_only_through_the_master_and_takes_its_own_arguments_after_the_host(
        base: Path) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    argv = transport.login_argv()
    assert argv[0] == "ssh" and argv[-1] == "svc@login.example.org" and "--" not in argv
    assert argv[1:-1] == transport.login_options()
    assert option(argv, "ControlPath") == str(transport.socket)
    assert option(argv, "ControlMaster") == "no" and option(argv, "BatchMode") == "yes"
    assert option(argv, "IdentityFile") == "none" and option(argv, "StrictHostKeyChecking") == "yes"
    assert option(argv, "UserKnownHostsFile") == str(transport.known_hosts_file)
    assert transport.command_argv(["id"])[:-4] == argv[:-1]  # a command of its own: the same options
    with pytest.raises(TransportError, match=r"\[hpc1\] the host '-oProxyCommand=x' or user 'svc' starts"):
        OpenSSHTransport(config(host="-oProxyCommand=x"), base_dir=base).login_argv()


def test_only_the_pinned_host_keys_are_trusted(base: Path, tmp_path: Path) -> None:
    listed = tmp_path / "known_hosts"
    listed.write_text("[login.example.org]:2222 ssh-rsa AAAAB3Nza\n")
    cfg = config(host_keys=(HOST_KEY, "@revoked ssh-ed25519 AAAAold"), known_hosts_path=str(listed))
    argv = OpenSSHTransport(cfg, base_dir=base).command_argv(["true"])
    assert option(argv, "StrictHostKeyChecking") == "yes"
    assert option(argv, "GlobalKnownHostsFile") == "/dev/null"
    known = Path(str(option(argv, "UserKnownHostsFile")))
    assert known.parent == base
    assert known.read_text() == cfg.known_hosts() + "\n"
    assert known.read_text().splitlines() == [f"[login.example.org]:2222 {HOST_KEY}",
                                              "@revoked [login.example.org]:2222 ssh-ed25519 AAAAold",
                                              "[login.example.org]:2222 ssh-rsa AAAAB3Nza"]


def test_a_centre_with_no_pinned_key_is_refused_before_any_connection(base: Path) -> None:
    with pytest.raises(HostKeyError, match=r"\[hpc1\] no host key is pinned for login.example.org:2222"):
        OpenSSHTransport(config(host_keys=()), base_dir=base)


def test_the_master_persists_as_configured_and_prompts_only_at_a_terminal(base: Path) -> None:
    transport = OpenSSHTransport(config(control_persist_s=900), base_dir=base)
    batch = transport.master_argv(key_file=base / "k", interactive=False)
    assert option(batch, "ControlMaster") == "yes" and "-M" not in batch  # -M too would ask per session
    assert option(batch, "ControlPersist") == "900"
    assert batch[-4:] == ["-N", "-f", "--", "login.example.org"]
    assert option(batch, "BatchMode") == "yes" and option(batch, "KbdInteractiveAuthentication") == "no"
    assert option(batch, "IdentityFile") == str(base / "k")
    at_terminal = transport.master_argv(key_file=None, interactive=True)
    assert option(at_terminal, "BatchMode") == "no"
    assert option(at_terminal, "KbdInteractiveAuthentication") == "yes"
    assert option(at_terminal, "IdentityFile") == "none"
    forever = OpenSSHTransport(config(control_persist_s=0), base_dir=base)
    assert option(forever.master_argv(key_file=None, interactive=True), "ControlPersist") == "yes"


# -- the socket directory ---------------------------------------------------------------------


def test_the_socket_directory_is_private_to_the_user(base: Path) -> None:
    made = control_dir(base)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    made.chmod(0o755)
    control_dir(base)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_a_socket_directory_of_another_user_is_refused(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    control_dir(base)
    monkeypatch.setattr(_openssh.os, "getuid", lambda: os.stat(base).st_uid + 1)
    with pytest.raises(TransportError, match=rf"{base} belongs to user id .* service accounts"):
        control_dir(base)


def test_the_socket_directory_comes_from_the_environment(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROL_DIR_ENV, str(base))
    assert OpenSSHTransport(config()).socket.parent == base


def test_every_configuration_of_one_account_shares_one_socket(base: Path) -> None:
    one = OpenSSHTransport(config(), base_dir=base).socket
    assert OpenSSHTransport(config(site="other", private_key="", mfa=True, max_channels=2),
                            base_dir=base).socket == one
    assert OpenSSHTransport(config(host="LOGIN.example.org"), base_dir=base).socket == one
    assert OpenSSHTransport(config(user="svc2"), base_dir=base).socket != one
    assert OpenSSHTransport(config(port=22), base_dir=base).socket != one


def test_a_socket_path_too_long_for_unix_sockets_is_refused_with_the_fix(base: Path) -> None:
    with pytest.raises(TransportError, match=rf"too long for a Unix socket.*{CONTROL_DIR_ENV}"):
        OpenSSHTransport(config(), base_dir=base / ("d" * 80))


# -- settings and selection -------------------------------------------------------------------


def test_mfa_needs_the_openssh_backend() -> None:
    with pytest.raises(ValidationError, match="mfa needs backend 'openssh'"):
        config(backend="paramiko", mfa=True)


def test_open_site_picks_the_backend_of_the_centre(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROL_DIR_ENV, str(base))
    settings: dict[str, Any] = {"name": "hpc1", "host": "h", "user": "svc", "private_key": KEY,
                                "host_keys": (HOST_KEY,), "work_root": "/w"}
    openssh = open_site(SiteConfig(**settings, backend="openssh", mfa=True)).transport
    assert isinstance(openssh, OpenSSHTransport) and openssh.mfa and openssh.site == "hpc1"
    assert open_site(SiteConfig(**settings, backend="openssh", mfa=True)).transport is openssh
    from heroes_core.transport import _ssh
    monkeypatch.setattr(_ssh, "load_private_key", lambda text, site: object())
    assert isinstance(open_site(SiteConfig(**settings)).transport, SSHTransport)


# -- running commands and what failures become ------------------------------------------------


def test_the_first_command_opens_one_master_with_the_key_in_a_private_file_then_removes_it(
        base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    ssh = fake(monkeypatch, transport, commands=[(0, ""), (0, "")])
    assert transport.run(["id"]).stdout == "out"
    assert transport.run(["id"]).ok
    assert transport.masters_opened == 1 and ssh.key_modes == [0o600]
    assert not [p for p in base.iterdir() if p.name.startswith(".key-")]
    assert transport.commands_sent == 2


def test_an_exit_255_of_the_remote_command_is_its_result_not_an_ssh_failure(
        base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    fake(monkeypatch, transport, commands=[(255, "cat: x: Permission denied\n")])
    result = transport.run(["cat", "x"])
    assert (result.exit_code, result.stderr) == (255, "cat: x: Permission denied\n")


def test_an_mfa_centre_without_its_master_fails_at_once_saying_how_to_open_it(
        base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(private_key="", mfa=True), base_dir=base)
    ssh = fake(monkeypatch, transport)
    with pytest.raises(AuthenticationError, match=r"^\[hpc1\] no shared SSH connection to "
                                                  r"svc@login.example.org:2222 is open.*"
                                                  r"`heroes centre connect hpc1`"):
        transport.run(["squeue"])
    assert ssh.calls == []  # nothing ran: no socket is no master, without asking ssh or the centre


def test_an_mfa_centre_whose_master_went_away_fails_with_the_same_fix(
        base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(private_key="", mfa=True), base_dir=base)
    transport.socket.write_text("")  # a dead master's socket
    ssh = fake(monkeypatch, transport, commands=[(255, NO_SOCKET)])
    with pytest.raises(AuthenticationError, match=r"heroes centre connect hpc1"):
        transport.run(["squeue"])
    assert len(ssh.sent()) == 1


@pytest.mark.parametrize(("said", "error", "words"), [
    (CHANGED, HostKeyError, r"login.example.org:2222 is ED25519 SHA256:A9Fa\+NzGzKkkotS53XzSAt1HRBYV8m3M4o0QRJ6G7J8, "
                            r"which is not the pinned key \(ssh-ed25519 SHA256:\S+\); refusing to connect"),
    (REVOKED, HostKeyError, r"login.example.org:2222 \(ED25519\) is marked @revoked; refusing"),
    (DENIED, AuthenticationError, r"refused the key of service account 'svc'.*authorized_keys"),
    (REFUSED, UnreachableError, r"cannot connect to svc@login.example.org:2222.*Connection refused"),
], ids=["changed host key", "revoked host key", "key refused", "nothing listening"])
def test_a_master_that_cannot_open_is_the_error_of_its_cause(
        base: Path, monkeypatch: pytest.MonkeyPatch, said: str, error: type[Exception], words: str) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    ssh = fake(monkeypatch, transport, master=(255, said))
    with pytest.raises(error, match=words) as caught:
        transport.run(["true"])
    assert str(caught.value).startswith("[hpc1] ") and "Fix:" in str(caught.value)
    assert ssh.sent() == [] and not [p for p in base.iterdir() if p.name.startswith(".key-")]


def test_a_session_the_master_refused_is_tried_again(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    ssh = fake(monkeypatch, transport, commands=[(255, NO_SESSION), (0, "")])
    assert transport.run(["sbatch", "job.sh"], idempotent=False).ok
    assert len(ssh.sent()) == 2 and transport.commands_sent == 1


def test_a_master_gone_before_the_command_is_reopened_and_the_command_sent_once(
        base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    transport.socket.write_text("")  # stale: the fake's master is not alive
    ssh = fake(monkeypatch, transport, commands=[(255, NO_SOCKET), (0, "")])
    assert transport.run(["sbatch", "job.sh"], idempotent=False).ok
    assert transport.masters_opened == 1 and len(ssh.sent()) == 2


def test_a_link_lost_during_a_query_is_retried_on_a_new_master(
        base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    ssh = fake(monkeypatch, transport, commands=[(255, BROKEN), (0, "")])
    original = ssh.__call__

    def master_dies_with_the_link(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        result = original(argv, **kwargs)
        if option(argv, "ControlMaster") == "no" and result.returncode == 255:
            ssh.alive = False
            ssh.socket.unlink()
        return result

    monkeypatch.setattr(_openssh.subprocess, "run", master_dies_with_the_link)
    assert transport.run(["squeue"]).ok
    assert transport.masters_opened == 2


@pytest.mark.parametrize("said", [BROKEN, ""], ids=["ssh says so", "silent, master gone"])
def test_a_link_lost_during_a_submission_is_not_resent(
        base: Path, monkeypatch: pytest.MonkeyPatch, said: str) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    ssh = fake(monkeypatch, transport, commands=[(255, said)])
    transport.connect()
    ssh.alive = False  # the master died under the command
    with pytest.raises(ConnectionLostError, match=r"\[hpc1\] link dropped while `sbatch` ran"):
        transport.run(["sbatch", "job.sh"], idempotent=False)
    assert len(ssh.sent()) == 1


def test_a_command_past_its_timeout_is_a_timeout_error(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    fake(monkeypatch, transport, commands=[("timeout", "")])
    with pytest.raises(CommandTimeoutError, match=r"\[hpc1\] `sleep` did not answer in time"):
        transport.run(["sleep", "100"], timeout=1)


def test_status_and_disconnect_ask_the_master(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = OpenSSHTransport(config(), base_dir=base)
    fake(monkeypatch, transport)
    assert not transport.status().open and not transport.disconnect()
    opened = transport.connect()
    assert opened.pid == 4242 and "master pid 4242" in opened.describe()
    assert transport.connect().pid == 4242 and transport.masters_opened == 1  # found, not reopened
    assert transport.disconnect() and not transport.socket.exists()
    assert "no shared connection is open" in transport.status().describe()
