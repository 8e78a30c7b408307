"""rclone to a centre on the 'openssh' backend (an MFA login node): through the centre's shared
OpenSSH master with the system ssh and no key, only while that master is open, and within the
sessions one master carries. ssh is a script on PATH that answers ``-O check`` as a running
master and records every other invocation; rclone is the real one or a recording script."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heroes_core.data import (
    LocalLocation,
    Rclone,
    RcloneError,
    Requester,
    SFTPEndpoint,
    SFTPLocation,
    TransferOptions,
    TransferRequest,
    transfer,
)
from heroes_core.data._rclone import (
    rclone_binary,
    shared_connections,
    space_separated,
    within_connections,
)
from heroes_core.transport import CONTROL_DIR_ENV, SSHConfig, shared_openssh_transport
from tests.unit.heroes_core.data.test_rclone import ARCHIVE_ENDPOINT as ARCHIVE
from tests.unit.heroes_core.data.test_rclone import fake_rclone
from tests.unit.heroes_core.test_openssh_transport import HOST_KEY, KEY, option

# ssh as rclone and the transport run it: `-O check` finds a master if the socket exists (as
# OpenSSH does), `-O exit` ends it; anything else is recorded and fails as a login would.
FAKE_SSH = """
import json, os, sys
args = sys.argv[1:]
if "-O" in args:
    path = next(a.split("=", 1)[1] for a in args if a.startswith("ControlPath="))
    if os.path.exists(path):
        print("Master running (pid=4242)", file=sys.stderr)
        sys.exit(0)
    print(f"Control socket connect({path}): No such file or directory", file=sys.stderr)
    sys.exit(255)
with open(os.environ["FAKE_SSH_LOG"], "a") as out:
    out.write(json.dumps(args) + "\\n")
sys.exit(255)
"""


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The socket directory (a space in its path, as rclone's option must survive one), and the
    scripted ssh first on PATH."""
    root = Path(tempfile.mkdtemp(prefix="hs-", dir="/tmp"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(f"#!{sys.executable}\n{FAKE_SSH}")
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_SSH_LOG", str(tmp_path / "ssh.log"))
    monkeypatch.setenv(CONTROL_DIR_ENV, str(root / "with space"))
    yield root / "with space"
    shutil.rmtree(root)


def ssh_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "ssh.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def mfa_centre(site: str = "hpc1", **settings: Any) -> SFTPEndpoint:
    """An MFA centre as SFTPEndpoint.of_site makes it: no key, its SSH settings on 'openssh'."""
    ssh = SSHConfig(**({"site": site, "host": "login.example.org", "port": 2222, "user": "svc",
                        "private_key": "", "host_keys": (HOST_KEY,), "backend": "openssh",
                        "mfa": True} | settings))
    return SFTPEndpoint(site=site, host=ssh.host, port=ssh.port, user=ssh.user,
                        private_key=ssh.private_key, known_hosts=ssh.known_hosts(), ssh=ssh)


def open_master(server: SFTPEndpoint) -> None:
    """What `heroes centre connect` leaves behind, as far as `ssh -O check` can tell."""
    assert server.ssh is not None
    shared_openssh_transport(server.ssh).socket.write_text("")


def recording_rclone(tmp_path: Path) -> str:
    """rclone that records its argv and its remotes' settings, and copies nothing."""
    record = tmp_path / "rclone.json"
    return fake_rclone(tmp_path, f"""
        env = {{k: v for k, v in os.environ.items() if k.startswith("RCLONE_CONFIG_")}}
        with open({str(record)!r}, "a") as out:
            out.write(json.dumps({{"argv": sys.argv[1:], "env": env}}) + "\\n")
        print("[]")
        """)


def rclone_calls(tmp_path: Path) -> list[dict[str, Any]]:
    record = tmp_path / "rclone.json"
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def test_rclone_reaches_an_mfa_centre_by_the_masters_ssh_command_line_with_no_key(
        base: Path, tmp_path: Path) -> None:
    server = mfa_centre()
    open_master(server)
    assert server.ssh is not None
    login = shared_openssh_transport(server.ssh).login_argv()
    with pytest.raises(RcloneError):  # the scripted ssh refuses the session; what rclone ran is recorded
        Rclone(server).run(["lsjson", "centre:/scratch", "--use-json-log", "--retries", "1",
                            "--low-level-retries", "1"])
    sessions = ssh_calls(tmp_path)
    assert sessions and all(call == [*login[1:], "-s", "sftp"] for call in sessions)
    assert option(login, "ControlPath") == str(base / shared_openssh_transport(server.ssh).socket.name)
    assert option(login, "ControlMaster") == "no" and option(login, "BatchMode") == "yes"
    assert option(login, "IdentityFile") == "none" and login[-1] == "svc@login.example.org"


def test_an_mfa_centres_remote_has_the_ssh_option_and_no_key_or_own_host_key_file(
        base: Path, tmp_path: Path) -> None:
    server = mfa_centre(private_key=KEY)  # even a key in the block is not handed to rclone
    open_master(server)
    Rclone(server, binary=recording_rclone(tmp_path)).run(["lsjson", "centre:/scratch"])
    env = rclone_calls(tmp_path)[0]["env"]
    assert server.ssh is not None
    assert env["RCLONE_CONFIG_CENTRE_SSH"] == space_separated(shared_openssh_transport(server.ssh).login_argv())
    assert '"-o" "ControlPath=' not in env["RCLONE_CONFIG_CENTRE_SSH"]  # quoted whole: -o alone
    assert f'"ControlPath={base}/' in env["RCLONE_CONFIG_CENTRE_SSH"]
    assert not any(name.endswith(("_KEY_PEM", "_KEY_FILE", "_KNOWN_HOSTS_FILE", "_PASS")) for name in env)


@pytest.mark.parametrize(("max_channels", "connections"), [(8, 8), (2, 3), (1, 3)])
def test_rclone_opens_at_most_the_blocks_channels_through_the_master_and_never_fewer_than_3(
        base: Path, tmp_path: Path, max_channels: int, connections: int) -> None:
    server = mfa_centre(max_channels=max_channels)
    assert shared_connections(server) == connections
    open_master(server)
    rclone = Rclone(ARCHIVE, server, binary=recording_rclone(tmp_path))
    rclone.run(["copy", "archive:b/in", "centre:/scratch/in", *TransferOptions().copy_flags()])
    rclone.run(["lsjson", "centre:/scratch/in"])
    copy, listing = rclone_calls(tmp_path)
    assert copy["env"]["RCLONE_CONFIG_CENTRE_CONNECTIONS"] == str(connections)
    # rclone deadlocks unless it has a connection more than it uses at once
    for call in (copy, listing):
        argv = call["argv"]
        assert argv.count("--transfers") == argv.count("--checkers") == 1
        assert int(argv[argv.index("--transfers") + 1]) <= connections - 1
        assert int(argv[argv.index("--checkers") + 1]) <= connections - 1
    assert "--check-first" in copy["argv"] and "--check-first" not in listing["argv"]


def test_the_cap_lowers_rclones_parallelism_and_never_raises_it() -> None:
    assert within_connections(["copy", "a:", "b:", "--transfers", "32", "--checkers=32"], 8) == [
        "copy", "a:", "b:", "--transfers", "7", "--checkers=7", "--check-first"]
    assert within_connections(["lsjson", "a:", "--transfers", "1"], 3) == [
        "lsjson", "a:", "--transfers", "1", "--checkers", "2"]


def test_commands_not_naming_the_centre_neither_need_its_master_nor_are_capped(tmp_path: Path) -> None:
    rclone = Rclone(ARCHIVE, mfa_centre(), binary=recording_rclone(tmp_path))
    rclone.run(["lsjson", "archive:bucket/x", "--checkers", "32"])
    assert rclone_calls(tmp_path)[0]["argv"] == ["lsjson", "archive:bucket/x", "--checkers", "32"]


def test_without_the_master_rclone_fails_at_once_with_the_transports_fix_and_never_runs(
        base: Path, tmp_path: Path) -> None:
    rclone = Rclone(ARCHIVE, mfa_centre(), binary=recording_rclone(tmp_path))
    with pytest.raises(RcloneError, match=r"^\[hpc1\] no shared SSH connection to svc@login.example.org:2222 "
                                          r"is open.*Fix: .*`heroes centre connect hpc1`") as failed:
        rclone.run(["copy", "archive:b/in", "centre:/scratch/in"])
    assert not failed.value.transient
    assert rclone_calls(tmp_path) == [] and ssh_calls(tmp_path) == []


def test_a_transfer_to_an_mfa_centre_without_its_master_copies_nothing_and_is_not_retried(
        base: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("alpha")
    pauses: list[float] = []
    request = TransferRequest(requester=Requester(organisation="acme", user="ann"),
                              source=LocalLocation(path=str(source)),
                              destination=SFTPLocation(server=mfa_centre(), path="/scratch/in"))
    with pytest.raises(RcloneError) as failed:
        transfer(request, rclone=Rclone(binary=recording_rclone(tmp_path)), sleep=pauses.append)
    assert str(failed.value).startswith(f"[hpc1] transfer from local:{source} to hpc1:/scratch/in failed: "
                                        "no shared SSH connection to svc@login.example.org:2222 is open")
    assert failed.value.fix is not None and "heroes centre connect hpc1" in failed.value.fix
    assert not failed.value.transient and pauses == []  # one attempt, no retry
    assert rclone_calls(tmp_path) == [] and ssh_calls(tmp_path) == []  # nothing listed, nothing copied


def test_space_separated_quotes_what_rclone_would_split(tmp_path: Path) -> None:
    assert space_separated(["ssh", "-o", "ControlPath=/a b/m", 'say "hi"', ""]) == (
        'ssh -o "ControlPath=/a b/m" "say ""hi""" ""')
    # and the real rclone reads it back into the same argv
    script = tmp_path / "argv"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        open({str(tmp_path / 'seen.json')!r}, "w").write(json.dumps(sys.argv[1:]))
        sys.exit(255)
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    argv = [str(script), "-o", "ControlPath=/a b/m", 'say "hi"', "user@host"]
    env = {"RCLONE_CONFIG_C_TYPE": "sftp", "RCLONE_CONFIG_C_SSH": space_separated(argv)}
    subprocess.run([rclone_binary(), "lsjson", "c:/x", "--retries", "1", "--low-level-retries", "1"],
                   env={"PATH": "/usr/bin:/bin", "RCLONE_CONFIG": "/dev/null", **env},
                   capture_output=True, check=False, timeout=60)
    assert json.loads((tmp_path / "seen.json").read_text()) == [*argv[1:], "-s", "sftp"]
