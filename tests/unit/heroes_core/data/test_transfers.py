"""One transfer between two endpoints, with local directories for ends (rclone handles them like
any remote): what moves, what does not, how failures are retried or not, and that every
transfer is recorded, however it ends."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from heroes_core.data import (
    LocalLocation,
    MissingSourceError,
    Rclone,
    RcloneError,
    Requester,
    TransferLimitError,
    TransferLog,
    TransferOptions,
    TransferOutcome,
    TransferProgress,
    TransferRequest,
    transfer,
)
from heroes_core.data._rclone import RcloneRun
from heroes_core.store import Database

WHO = Requester(organisation="acme", user="ann", project="cfd", job_key="k1", flow_run_id="run-1")


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def contents(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file()}


def request(src: Path, dst: Path, **extra: Any) -> TransferRequest:
    return TransferRequest(requester=WHO, source=LocalLocation(path=str(src)),
                           destination=LocalLocation(path=str(dst)), **extra)


FILES = {"a.txt": b"alpha" * 1000, "sub/b.dat": os.urandom(50_000), "sub/deep/c": b"c"}


def test_a_directory_moves_verified_and_unchanged_data_moves_no_more(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    first = transfer(request(src, dst))
    assert contents(dst) == FILES
    assert (first.files_checked, first.files_transferred) == (3, 3)
    assert first.bytes_transferred == sum(map(len, FILES.values()))
    again = transfer(request(src, dst))
    assert (again.files_checked, again.files_transferred, again.bytes_transferred) == (3, 0, 0)


def test_only_what_differs_moves(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    transfer(request(src, dst))
    (dst / "a.txt").write_bytes(b"tampered" + b"x" * 4992)  # same size, other content
    (src / "new.txt").write_bytes(b"new")
    report = transfer(request(src, dst))
    assert contents(dst) == contents(src)
    assert (report.files_transferred, report.bytes_transferred) == (2, 5003)


def test_listed_files_and_exclusions(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    transfer(request(src, dst, files=["a.txt", "sub/deep/c"]))
    assert set(contents(dst)) == {"a.txt", "sub/deep/c"}
    transfer(request(src, tmp_path / "dst2", exclude=["/sub/deep/**", "*.txt"]))
    assert set(contents(tmp_path / "dst2")) == {"sub/b.dat"}


def test_missing_files_are_named_all_at_once_before_any_byte_moves(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    with pytest.raises(MissingSourceError) as failed:
        transfer(request(src, dst, files=["a.txt", "nope.txt", "sub/none"]))
    assert f"2 file(s) nope.txt, sub/none not found on local at {src}" in str(failed.value)
    assert failed.value.site == "local" and not dst.exists()


def test_a_source_over_the_limit_is_refused_before_any_byte_moves(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    size = sum(map(len, FILES.values()))
    with pytest.raises(TransferLimitError) as failed:
        transfer(request(src, dst, limit_bytes=size - 1))
    message = str(failed.value)
    assert "job k1" in message and f"{size} bytes in 3 file(s)" in message
    assert f"limit of 53.7 KiB ({size - 1} bytes)" in message and not dst.exists()
    assert transfer(request(src, dst, limit_bytes=size)).files_transferred == 3


def test_progress_goes_check_copy_verify_with_bytes_and_files(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", {"big": os.urandom(3 << 20)}), tmp_path / "dst"
    seen: list[TransferProgress] = []
    transfer(request(src, dst, options=TransferOptions(bandwidth_limit="1M", stats_interval_s=0.5)),
             on_progress=seen.append)
    phases = [p.phase for p in seen]
    assert phases[0] == "check" and phases[-1] == "verify" and phases.count("copy") >= 2
    copying = [p for p in seen if p.phase == "copy"]
    assert copying[0].bytes < copying[-1].bytes == copying[-1].total_bytes == 3 << 20
    assert any(p.rate > 0 for p in copying) and copying[-1].fraction == 1.0
    assert seen[-1].files == seen[-1].total_files == 1


class Flaky(Rclone):
    """An rclone whose first copies fail as told."""

    def __init__(self, failures: Sequence[RcloneError]) -> None:
        super().__init__()
        self.failures = list(failures)
        self.copies = 0

    def run(self, args: Sequence[str], **kwargs: Any) -> RcloneRun:
        if args[0] == "copy":
            self.copies += 1
            if self.failures:
                raise self.failures.pop(0)
        return super().run(args, **kwargs)


def dropped() -> RcloneError:
    return RcloneError("rclone copy failed (exit 2): connection reset by peer", site="hpc1",
                       transient=True, exit_code=2)


def test_a_dropped_link_is_retried_after_growing_pauses(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    pauses: list[float] = []
    seen: list[TransferProgress] = []
    rclone = Flaky([dropped(), dropped()])
    report = transfer(request(src, dst, options=TransferOptions(backoff_s=1.5)), rclone=rclone,
                      sleep=pauses.append, on_progress=seen.append)
    assert pauses == [1.5, 3.0] and rclone.copies == 3
    assert report.attempts == 3 and contents(dst) == FILES
    retries = [p for p in seen if p.phase == "retry"]
    assert [p.eta_s for p in retries] == [1.5, 3.0] and "connection reset" in (retries[0].note or "")


def test_a_link_that_keeps_dropping_fails_after_the_last_attempt(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    pauses: list[float] = []
    with pytest.raises(RcloneError, match="failed 3 times: rclone copy failed") as failed:
        transfer(request(src, dst, options=TransferOptions(attempts=3, backoff_s=10,
                                                           max_backoff_s=15)),
                 rclone=Flaky([dropped()] * 5), sleep=pauses.append)
    assert pauses == [10, 15] and failed.value.transient and failed.value.site == "hpc1"


def test_a_refused_key_fails_at_once(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    refused = RcloneError("ssh: unable to authenticate", site="hpc1", fix="check the key")
    pauses: list[float] = []
    with pytest.raises(RcloneError, match="unable to authenticate") as failed:
        transfer(request(src, dst), rclone=Flaky([refused]), sleep=pauses.append)
    assert pauses == [] and failed.value.fix == "check the key"
    assert f"from local:{src} to local:{dst}" in str(failed.value)


class Corrupting(Rclone):
    """An rclone whose first copy leaves a damaged file behind."""

    def __init__(self, victim: Path) -> None:
        super().__init__()
        self.victim, self.copies = victim, 0

    def run(self, args: Sequence[str], **kwargs: Any) -> RcloneRun:
        done = super().run(args, **kwargs)
        if args[0] == "copy":
            self.copies += 1
            if self.copies == 1:
                self.victim.write_bytes(b"X" * len(self.victim.read_bytes()))
        return done


def test_a_copy_that_does_not_verify_is_done_again(tmp_path: Path) -> None:
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    report = transfer(request(src, dst), rclone=Corrupting(dst / "sub" / "b.dat"), sleep=lambda s: None)
    assert contents(dst) == FILES and report.attempts == 2
    assert hashlib.md5((dst / "sub" / "b.dat").read_bytes()).digest() == hashlib.md5(
        FILES["sub/b.dat"]).digest()


def test_every_transfer_is_recorded_however_it_ends(tmp_path: Path, database: Database) -> None:
    log = TransferLog(database)
    src, dst = tree(tmp_path / "src", FILES), tmp_path / "dst"
    transfer(request(src, dst, files=["a.txt", "sub/b.dat"]), log=log)
    with pytest.raises(MissingSourceError):
        transfer(request(src, dst, files=["gone.txt"]), log=log)
    failed, done = log.list(organisation="acme")
    assert done.outcome is TransferOutcome.SUCCEEDED and done.error is None
    assert (done.organisation, done.project, done.user, done.job_key, done.flow_run_id) == (
        "acme", "cfd", "ann", "k1", "run-1")
    assert done.what == "2 file(s): a.txt, sub/b.dat"
    assert (done.source, done.destination) == (f"local:{src}", f"local:{dst}")
    assert (done.bytes, done.files, done.files_checked) == (5000 + 50_000, 2, 2)
    assert done.finished_at >= done.started_at and done.duration_s >= 0
    assert failed.outcome is TransferOutcome.FAILED and "gone.txt" in (failed.error or "")
    assert failed.bytes == 0


def test_a_record_that_cannot_be_written_does_not_hide_the_transfer_error(tmp_path: Path) -> None:
    class Broken(TransferLog):
        def __init__(self) -> None:
            pass

        def record(self, **fields: Any) -> Any:
            raise RuntimeError("database is down")

    with pytest.raises(MissingSourceError) as failed:
        transfer(request(tree(tmp_path / "src", FILES), tmp_path / "dst", files=["gone"]),
                 log=Broken())
    assert any("database is down" in note for note in failed.value.__notes__)


def test_requests_refuse_paths_that_climb_and_bad_bandwidth_limits(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        request(tmp_path, tmp_path / "d", files=["../etc/passwd"])
    with pytest.raises(ValueError):
        TransferOptions(bandwidth_limit="fast")
    assert TransferOptions(bandwidth_limit="10M:off").copy_flags()[-2:] == ["--bwlimit", "10M:off"]
    summary = request(tmp_path, tmp_path / "d", files=["a", "b", "c", "d"], exclude=["/x"]).summary()
    assert summary == "4 file(s): a, b, c, ... excluding /x"
