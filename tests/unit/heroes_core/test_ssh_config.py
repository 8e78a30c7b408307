"""Host key pinning and key loading, without a server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import subprocess
from pathlib import Path

import paramiko
import pytest

from heroes_core.errors import AuthenticationError, HostKeyError
from heroes_core.transport import SSHConfig, SSHTransport, fingerprint, parse_host_key_line
from heroes_core.transport._ssh import load_private_key


def private_key_text() -> str:
    key = paramiko.RSAKey.generate(2048)
    buffer = io.StringIO()
    key.write_private_key(buffer)
    return buffer.getvalue()


def _keygen(directory: Path, kind: str) -> tuple[Path, str, str]:
    """A fresh key made by OpenSSH's ssh-keygen: (private key file, type, base64 public key)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"key-{kind}-{len(list(directory.iterdir()))}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    key_type, key_b64 = path.with_suffix(".pub").read_text().split()[:2]
    return path, key_type, key_b64


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    directory = tmp_path_factory.mktemp("keys")
    made = {"a": _keygen(directory, "ed25519"), "b": _keygen(directory, "ed25519"),
            "rsa": _keygen(directory, "rsa")}
    return {name: (key_type, key_b64) for name, (_, key_type, key_b64) in made.items()}


def transport(host_keys: tuple[str, ...] = (), known_hosts: Path | None = None) -> SSHTransport:
    return SSHTransport(SSHConfig(site="hpc1", host="127.0.0.1", port=2222, user="svc",
                                  private_key=PRIVATE_KEY, host_keys=host_keys,  # type: ignore[arg-type]
                                  known_hosts_path=str(known_hosts) if known_hosts else None))


PRIVATE_KEY = private_key_text()


def test_host_key_lines_in_keyscan_and_known_hosts_forms() -> None:
    assert parse_host_key_line("ssh-ed25519 AAAAC3Nz comment") == ("ssh-ed25519", "AAAAC3Nz")
    assert parse_host_key_line("[h]:2222 ssh-ed25519 AAAAC3Nz") == ("ssh-ed25519", "AAAAC3Nz")
    with pytest.raises(HostKeyError):
        parse_host_key_line("garbage")


def test_a_marker_line_cannot_be_read_as_a_key_to_trust() -> None:
    with pytest.raises(HostKeyError, match="@revoked"):
        parse_host_key_line("@revoked [h]:2222 ssh-ed25519 AAAAC3Nz")


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_fingerprint_is_exactly_what_ssh_keygen_prints(tmp_path: Path, kind: str) -> None:
    path, key_type, key_b64 = _keygen(tmp_path, kind)
    listed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path.with_suffix(".pub"))],
                            capture_output=True, text=True, check=True).stdout.split()
    assert fingerprint(key_type, key_b64) == f"{key_type} {listed[1]}"


def test_a_site_without_a_pinned_host_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HostKeyError, match=r"\[hpc1\] no host key is pinned.*ssh-keyscan -p 2222"):
        transport()


def test_an_unreadable_private_key_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="private key cannot be read"):
        load_private_key("not a key", site="hpc1")


def test_the_pinned_key_is_accepted_and_another_key_of_its_type_refused(
        keys: dict[str, tuple[str, str]]) -> None:
    pinned = transport(("{} {}".format(*keys["a"]),))
    pinned.verify_host_key(*keys["a"])
    with pytest.raises(HostKeyError, match=(
            rf"\[hpc1\] host key of 127.0.0.1:2222 is {re.escape(fingerprint(*keys['b']))}, which "
            rf"is not the pinned key \({re.escape(fingerprint(*keys['a']))}\)")):
        pinned.verify_host_key(*keys["b"])


def test_a_key_of_another_type_names_both_fingerprints_and_how_to_pin_it(
        keys: dict[str, tuple[str, str]]) -> None:
    pinned = transport(("{} {}".format(*keys["a"]),))
    with pytest.raises(HostKeyError) as caught:
        pinned.verify_host_key(*keys["rsa"])
    message = str(caught.value)
    assert message.startswith("[hpc1] ")
    assert fingerprint(*keys["rsa"]) in message and fingerprint(*keys["a"]) in message
    assert "has no ssh-ed25519 key" in message
    assert "ssh-keyscan -t rsa -p 2222 127.0.0.1" in message


def test_the_server_may_offer_every_key_type_but_is_asked_for_the_pinned_type_first(
        keys: dict[str, tuple[str, str]]) -> None:
    algorithms = transport(("{} {}".format(*keys["rsa"]),)).host_key_algorithms()
    assert algorithms[:2] == ("rsa-sha2-512", "rsa-sha2-256")
    assert "ssh-ed25519" in algorithms  # so a server without RSA still shows its key


def test_a_pinned_key_also_marked_revoked_in_the_pinned_lines_is_refused(
        keys: dict[str, tuple[str, str]]) -> None:
    line = "{} {}".format(*keys["a"])
    pinned = transport((line, f"@revoked {line}"))
    with pytest.raises(HostKeyError, match=rf"\[hpc1\] .*{re.escape(fingerprint(*keys['a']))}.*@revoked"):
        pinned.verify_host_key(*keys["a"])


def test_a_key_revoked_in_known_hosts_is_refused_even_if_pinned_plainly(
        tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    line = "{} {}".format(*keys["a"])
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:2222 {line}\n@revoked * {line}\n")
    for pinned in (transport(known_hosts=known_hosts), transport((line,), known_hosts)):
        with pytest.raises(HostKeyError, match=rf"{re.escape(fingerprint(*keys['a']))}.*@revoked"):
            pinned.verify_host_key(*keys["a"])


def test_known_hosts_entries_for_other_hosts_and_ports_are_not_pinned(
        tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("127.0.0.1 {} {}\n".format(*keys["a"]) +        # port 22
                           "[127.0.0.2]:2222 {} {}\n".format(*keys["b"]) +  # another host
                           "[127.0.0.1]:2222,![127.0.0.?]:* {} {}\n".format(*keys["rsa"]) +  # negated
                           "[127.0.0.1]:2222 {} {}\n".format(*keys["b"]))
    pinned = transport(known_hosts=known_hosts)
    pinned.verify_host_key(*keys["b"])
    for other in ("a", "rsa"):
        with pytest.raises(HostKeyError):
            pinned.verify_host_key(*keys[other])


def test_hashed_known_hosts_entries_are_matched(tmp_path: Path, keys: dict[str, tuple[str, str]]) -> None:
    salt = b"0123456789abcdefghij"
    digest = hmac.new(salt, b"[127.0.0.1]:2222", hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("{} {} {}\n".format(hashed, *keys["a"]))
    transport(known_hosts=known_hosts).verify_host_key(*keys["a"])


def test_a_cert_authority_line_is_refused_as_unsupported(keys: dict[str, tuple[str, str]]) -> None:
    with pytest.raises(HostKeyError, match=r"\[hpc1\] .*@cert-authority.*not supported"):
        transport(("@cert-authority * {} {}".format(*keys["a"]),))


def test_rclone_gets_the_pinned_keys_and_revocations_for_the_login_node() -> None:
    from heroes_core.data import SFTPEndpoint
    from heroes_core.sites import SiteConfig
    config = SiteConfig(name="hpc1", host="login.example", port=2222, user="svc", work_root="/w",
                        host_keys=("ssh-ed25519 AAAAgood", "@revoked ssh-rsa AAAAbad"))
    assert SFTPEndpoint.of_site(config).known_hosts.splitlines() == [
        "[login.example]:2222 ssh-ed25519 AAAAgood", "@revoked [login.example]:2222 ssh-rsa AAAAbad"]
