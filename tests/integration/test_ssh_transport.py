"""SSHTransport against the test bed's real sshd."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from testbed_config import state_dir  # scripts/testbed, put on the path by conftest.py

from heroes_core.errors import (
    AuthenticationError,
    ConnectionLostError,
    HostKeyError,
    UnreachableError,
)
from heroes_core.transport import SSHConfig, SSHTransport, fingerprint
from tests.integration.processes import stop

TESTBED_SSHD_CONFIG = state_dir() / "sshd" / "sshd_config"


def config(centre: dict[str, Any], **overrides: Any) -> SSHConfig:
    values: dict[str, Any] = {
        "site": "local-slurm", "host": centre["host"], "port": centre["port"],
        "user": centre["user"], "private_key": Path(centre["private_key_path"]).read_text(),
        "host_keys": (centre["host_key"],), "reconnect_attempts": 3, "backoff_initial": 0.2,
    }
    values.update(overrides)
    return SSHConfig(**values)


def test_many_commands_and_threads_share_one_connection(centre_info: dict[str, Any]) -> None:
    transport = SSHTransport(config(centre_info, max_channels=4))
    results: list[str] = []

    def work() -> None:
        for _ in range(5):
            results.append(transport.check(["id", "-un"]).stdout.strip())

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [centre_info["user"]] * 30
    assert transport.connections_made == 1
    transport.close()


def test_hostile_arguments_reach_the_centre_verbatim(centre_info: dict[str, Any]) -> None:
    transport = SSHTransport(config(centre_info))
    hostile = ["$(touch /tmp/heroes-pwned)", "; touch /tmp/heroes-pwned", "a\nb", "'\"", "*"]
    out = transport.check(["printf", "%s\\0", *hostile]).stdout
    assert out.split("\0")[:-1] == hostile
    assert transport.run(["test", "-e", "/tmp/heroes-pwned"]).exit_code == 1
    transport.close()


def test_a_changed_host_key_is_refused(centre_info: dict[str, Any]) -> None:
    impostor = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") else None
    other = (f"ssh-ed25519 {impostor.get_base64()}" if impostor else
             "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
    transport = SSHTransport(config(centre_info, host_keys=(other,)))
    with pytest.raises(HostKeyError, match=r"\[local-slurm\] host key of 127.0.0.1:2222 is "
                                           r"ssh-ed25519 SHA256:.*not the pinned key"):
        transport.check(["true"])


def test_a_wrong_private_key_is_refused_with_the_fix(centre_info: dict[str, Any]) -> None:
    import io
    key = paramiko.RSAKey.generate(2048)
    text = io.StringIO()
    key.write_private_key(text)
    transport = SSHTransport(config(centre_info, private_key=text.getvalue()))
    with pytest.raises(AuthenticationError, match=r"refused the key of service account.*authorized_keys"):
        transport.check(["true"])


def test_an_unreachable_host_fails_after_bounded_retries(centre_info: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from heroes_core.transport import SSHTransport as Transport
    attempts: list[tuple[str, int]] = []
    connect = socket.create_connection

    def counted(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted)
    cfg = SSHConfig(site="nowhere", host="127.0.0.1", port=1, user="x",
                    private_key=Path(centre_info["private_key_path"]).read_text(),  # type: ignore[arg-type]
                    host_keys=("ssh-ed25519 AAAA",), reconnect_attempts=2, backoff_initial=0.1)
    with pytest.raises(UnreachableError, match=r"\[nowhere\] cannot connect to 127.0.0.1:1"):
        Transport(cfg).check(["true"])
    assert attempts == [("127.0.0.1", 1)] * 2


def test_a_query_survives_a_dropped_link(centre_info: dict[str, Any]) -> None:
    transport = SSHTransport(config(centre_info))
    transport.connect()
    threading.Timer(0.5, transport.drop_connection).start()
    result = transport.check(["sh", "-c", "sleep 1.5; echo done"], idempotent=True)
    assert result.stdout.strip() == "done"
    assert transport.connections_made == 2
    transport.close()


def test_a_non_idempotent_command_is_not_resent_after_a_drop(centre_info: dict[str, Any]) -> None:
    transport = SSHTransport(config(centre_info))
    transport.connect()
    threading.Timer(0.5, transport.drop_connection).start()
    with pytest.raises(ConnectionLostError):
        transport.run(["sh", "-c", "sleep 1.5; echo done"], idempotent=False)
    transport.close()


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


@pytest.fixture(scope="module")
def rsa_only_sshd(testbed: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[dict[str, Any]]:
    """A second, throw-away OpenSSH server, the test bed's configuration with only an RSA
    host key, on a free loopback port; stopped when the module's tests are done."""
    directory = tmp_path_factory.mktemp("rsa-sshd")
    key = directory / "ssh_host_rsa_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)],
                   check=True)
    key_type, key_b64 = key.with_suffix(".pub").read_text().split()[:2]
    base = [line for line in TESTBED_SSHD_CONFIG.read_text().splitlines()
            if not re.match(r"^(Port|HostKey|PidFile)\b", line)]
    for _attempt in range(5):  # another process may take the free port before sshd binds it
        port = _free_port()
        config_file = directory / "sshd_config"
        config_file.write_text("\n".join([*base, f"Port {port}", f"HostKey {key}",
                                          f"PidFile {directory}/sshd.pid"]) + "\n")
        log = (directory / "sshd.log").open("w")
        server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config_file)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            if _banner(port).startswith(b"SSH-2.0-"):
                break
            time.sleep(0.1)
        if server.poll() is None and _banner(port).startswith(b"SSH-2.0-"):
            break
        server.kill()
        server.wait()
    else:
        pytest.fail(f"the RSA-only sshd did not start:\n{(directory / 'sshd.log').read_text()}")
    try:
        yield {"port": port, "host_key": f"{key_type} {key_b64}", "key_type": key_type,
               "key_b64": key_b64}
    finally:
        stop(server)
        log.close()


def _no_retries(caplog: pytest.LogCaptureFixture) -> None:
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries == []


def test_a_server_without_the_pinned_key_type_is_a_host_key_error_naming_both_keys(
        centre_info: dict[str, Any], rsa_only_sshd: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    port = rsa_only_sshd["port"]
    transport = SSHTransport(config(centre_info, port=port))  # pins the test bed's ed25519 key
    with pytest.raises(HostKeyError) as caught:
        transport.check(["true"])
    assert not isinstance(caught.value, UnreachableError)
    message = str(caught.value)
    pinned_type, pinned_b64 = centre_info["host_key"].split()[:2]
    assert message.startswith(f"[local-slurm] host key of 127.0.0.1:{port} is "
                              f"{fingerprint(rsa_only_sshd['key_type'], rsa_only_sshd['key_b64'])}")
    assert fingerprint(pinned_type, pinned_b64) in message
    assert f"ssh-keyscan -t rsa -p {port} 127.0.0.1" in message
    _no_retries(caplog)


def test_a_pinned_rsa_key_is_accepted_and_commands_run(
        centre_info: dict[str, Any], rsa_only_sshd: dict[str, Any]) -> None:
    transport = SSHTransport(config(centre_info, port=rsa_only_sshd["port"],
                                    host_keys=(rsa_only_sshd["host_key"],)))
    assert transport.check(["id", "-un"]).stdout.strip() == centre_info["user"]
    transport.close()


def test_a_key_revoked_in_known_hosts_is_refused_even_though_it_is_also_pinned(
        centre_info: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:2222 {centre_info['host_key']}\n"
                           f"@revoked * {centre_info['host_key']}\n")
    transport = SSHTransport(config(centre_info, known_hosts_path=str(known_hosts)))
    key_type, key_b64 = centre_info["host_key"].split()[:2]
    with pytest.raises(HostKeyError, match=(rf"\[local-slurm\] host key of 127.0.0.1:2222 is "
                                            rf"{re.escape(fingerprint(key_type, key_b64))}.*"
                                            r"@revoked")):
        transport.check(["true"])
    _no_retries(caplog)
