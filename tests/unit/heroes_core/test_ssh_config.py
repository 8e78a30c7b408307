"""Host key pinning and key loading, without a server."""

from pathlib import Path

import paramiko
import pytest

from heroes_core.errors import AuthenticationError, HostKeyError
from heroes_core.transport import SSHConfig, SSHTransport, fingerprint, parse_host_key_line
from heroes_core.transport._ssh import load_private_key


def private_key_text() -> str:
    import io
    key = paramiko.RSAKey.generate(2048)
    buffer = io.StringIO()
    key.write_private_key(buffer)
    return buffer.getvalue()


def test_host_key_lines_in_keyscan_and_known_hosts_forms() -> None:
    assert parse_host_key_line("ssh-ed25519 AAAAC3Nz comment") == ("ssh-ed25519", "AAAAC3Nz")
    assert parse_host_key_line("[h]:2222 ssh-ed25519 AAAAC3Nz") == ("ssh-ed25519", "AAAAC3Nz")
    with pytest.raises(HostKeyError):
        parse_host_key_line("garbage")


def test_fingerprint_matches_openssh_format() -> None:
    # ssh-keygen -lf of this key prints SHA256:... ; the digest is of the decoded blob.
    assert fingerprint("ssh-ed25519", "AAAA").startswith("ssh-ed25519 SHA256:")


def test_a_site_without_a_pinned_host_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    config = SSHConfig(site="hpc1", host="127.0.0.1", port=2222, user="svc",
                       private_key=private_key_text())  # type: ignore[arg-type]
    with pytest.raises(HostKeyError, match=r"\[hpc1\] no host key is pinned.*ssh-keyscan -p 2222"):
        SSHTransport(config)


def test_an_unreadable_private_key_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="private key cannot be read"):
        load_private_key("not a key", site="hpc1")
