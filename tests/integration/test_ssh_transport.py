"""SSHTransport against the test bed's real sshd."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paramiko
import pytest

from heroes_core.errors import (
    AuthenticationError,
    ConnectionLostError,
    HostKeyError,
    UnreachableError,
)
from heroes_core.transport import SSHConfig, SSHTransport


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


def test_an_unreachable_host_fails_after_bounded_retries() -> None:
    from heroes_core.transport import SSHTransport as Transport
    cfg = SSHConfig(site="nowhere", host="127.0.0.1", port=1, user="x",
                    private_key=Path("/var/lib/heroes-testbed/keys/heroes-svc").read_text(),  # type: ignore[arg-type]
                    host_keys=("ssh-ed25519 AAAA",), reconnect_attempts=2, backoff_initial=0.1)
    started = time.monotonic()
    with pytest.raises(UnreachableError, match=r"\[nowhere\] cannot connect to 127.0.0.1:1"):
        Transport(cfg).check(["true"])
    assert time.monotonic() - started < 30


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
