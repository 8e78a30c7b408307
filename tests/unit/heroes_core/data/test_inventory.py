"""Checksums of many files in one command, and what counts as a difference."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from heroes_core.data import RcloneError, SFTPEndpoint, SFTPLocation
from heroes_core.data._inventory import Entry, differences, md5_many, parse_md5sum, shell_for
from heroes_core.errors import ConnectionLostError, HostKeyError
from heroes_core.transport import (
    CommandResult,
    LocalTransport,
    OpenSSHTransport,
    SSHConfig,
    Transport,
    shared_openssh_transport,
)
from tests.unit.heroes_core.test_openssh_transport import HOST_KEY


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_one_command_checksums_every_file_even_odd_names(tmp_path: Path) -> None:
    names = {"a.txt": b"alpha", "sub/b c.dat": b"beta", "-dash": b"d", "back\\slash": b"s",
             "new\nline": b"n", "star*": b"*"}
    for name, data in names.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    shell = RecordingShell(LocalTransport("hpc1"))
    sums = md5_many(shell, str(tmp_path), [*names, "missing.txt"], site="hpc1")
    assert sums == {name: md5(data) for name, data in names.items()}
    assert len(shell.commands) == 1


def test_no_names_no_command() -> None:
    shell = RecordingShell(LocalTransport("hpc1"))
    assert md5_many(shell, "/nowhere", [], site="hpc1") == {} and shell.commands == []


def test_a_missing_directory_has_no_checksums(tmp_path: Path) -> None:
    assert md5_many(LocalTransport("hpc1"), str(tmp_path / "gone"), ["a"], site="hpc1") == {}


def test_a_dropped_link_while_checksumming_is_transient_a_bad_host_key_is_not() -> None:
    with pytest.raises(RcloneError) as dropped:
        md5_many(Failing(ConnectionLostError("gone", site="hpc1")), "/d", ["a"], site="hpc1")
    assert dropped.value.transient and dropped.value.site == "hpc1"
    with pytest.raises(RcloneError) as refused:
        md5_many(Failing(HostKeyError("changed", site="hpc1", fix="re-pin")), "/d", ["a"], site="hpc1")
    assert not refused.value.transient and refused.value.fix == "re-pin"


def test_a_host_without_md5sum_is_an_error_with_a_fix() -> None:
    shell = Answering(CommandResult(argv=("sh",), exit_code=127, stdout="", stderr="xargs: not found"))
    with pytest.raises(RcloneError, match="xargs: not found") as failed:
        md5_many(shell, "/d", ["a"], site="hpc1")
    assert failed.value.fix and "md5sum" in failed.value.fix


def test_md5sum_lines_binary_marks_and_escapes() -> None:
    output = ("d41d8cd98f00b204e9800998ecf8427e  plain.txt\n"
              "0cc175b9c0f1b6a831c399e269772661 *binary.bin\n"
              "\\92eb5ffee6ae2fec3ad71c777531578f  two\\nlines\\\\x\n"
              "garbage\n")
    assert parse_md5sum(output) == {"plain.txt": "d41d8cd98f00b204e9800998ecf8427e",
                                    "binary.bin": "0cc175b9c0f1b6a831c399e269772661",
                                    "two\nlines\\x": "92eb5ffee6ae2fec3ad71c777531578f"}


def test_differences_by_checksum_else_by_size() -> None:
    source = {"same": Entry(3, "aa"), "changed": Entry(3, "aa"), "missing": Entry(1, "bb"),
              "no-hash-same-size": Entry(5, None), "no-hash-other-size": Entry(5, None),
              "same-size-other-hash": Entry(4, "cc")}
    there = {"same": Entry(None, "aa"), "changed": Entry(3, "ff"), "no-hash-same-size": Entry(5, "dd"),
             "no-hash-other-size": Entry(6, "dd"), "same-size-other-hash": Entry(4, "ee"),
             "extra": Entry(1, "zz")}
    assert differences(source, there) == ["changed", "missing", "no-hash-other-size",
                                          "same-size-other-hash"]


def test_an_sftp_end_checksums_over_its_own_ssh_unless_told_otherwise() -> None:
    key = SecretStr(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode())
    host_key = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    ssh = SSHConfig(site="hpc1", host="login", user="svc", private_key=key, host_keys=(host_key,))
    server = SFTPEndpoint(site="hpc1", host="login", user="svc", private_key=key,
                          known_hosts="login ssh-ed25519 AAAA", ssh=ssh)
    with_ssh = SFTPLocation(server=server, path="/scratch/x")
    without = SFTPLocation(server=server.model_copy(update={"ssh": None}), path="/scratch/x")
    given = LocalTransport("hpc1")
    assert shell_for(with_ssh, {"hpc1": given}) is given
    found = shell_for(with_ssh, {})
    assert found is not None and found is shell_for(with_ssh, {})  # the site's shared connection
    assert shell_for(without, {}) is None


@pytest.mark.usefixtures("control_dir_env")
def test_an_sftp_end_on_the_openssh_backend_checksums_through_its_shared_master() -> None:
    ssh = SSHConfig(site="hpc1", host="login", user="svc", private_key="", host_keys=(HOST_KEY,),
                    backend="openssh", mfa=True)
    server = SFTPEndpoint(site="hpc1", host="login", user="svc", private_key=SecretStr(""),
                          known_hosts=ssh.known_hosts(), ssh=ssh)
    found = shell_for(SFTPLocation(server=server, path="/scratch/x"), {})
    assert isinstance(found, OpenSSHTransport) and found is shared_openssh_transport(ssh)


class RecordingShell(Transport):
    def __init__(self, inner: Transport) -> None:
        self.inner, self.site, self.commands = inner, inner.site, []  # type: list[list[str]]

    def run(self, argv, *, stdin=None, timeout=None, idempotent=True):  # type: ignore[no-untyped-def]
        self.commands.append(list(argv))
        return self.inner.run(argv, stdin=stdin, timeout=timeout, idempotent=idempotent)


class Failing(Transport):
    site = "hpc1"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, argv, *, stdin=None, timeout=None, idempotent=True):  # type: ignore[no-untyped-def]
        raise self.error


class Answering(Transport):
    site = "hpc1"

    def __init__(self, result: CommandResult) -> None:
        self.result = result

    def run(self, argv, *, stdin=None, timeout=None, idempotent=True):  # type: ignore[no-untyped-def]
        return self.result


def test_with_a_shell_and_names_the_checksums_alone_say_what_is_there(tmp_path: Path) -> None:
    from heroes_core.data import LocalLocation, Rclone
    from heroes_core.data._inventory import inventory

    (tmp_path / "a").write_bytes(b"alpha")
    (tmp_path / "b").write_bytes(b"beta")
    shell = RecordingShell(LocalTransport("local"))
    here = LocalLocation(path=str(tmp_path))
    assert inventory(here, Rclone(), names=["a", "gone"], sizes=False, shell=shell) == {
        "a": Entry(None, md5(b"alpha"))}
    assert inventory(here, Rclone(), names=["a", "b", "gone"], shell=shell) == {
        "a": Entry(5, md5(b"alpha")), "b": Entry(4, md5(b"beta"))}
    assert inventory(here, Rclone()) == {"a": Entry(5, md5(b"alpha")), "b": Entry(4, md5(b"beta"))}
    assert len(shell.commands) == 2
