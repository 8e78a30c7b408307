"""The transfer task: progress shown in the UI at a bounded rate, never failing the transfer,
and the transfer recorded in the database it is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

import heroes.tasks.data as data_tasks
from heroes.blocks import HeroesDatabase
from heroes.tasks.data import ProgressReporter, describe
from heroes_core.data import (
    LocalLocation,
    Requester,
    TransferLog,
    TransferOutcome,
    TransferProgress,
    TransferReport,
)
from heroes_core.store import shared_database


class Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(("info", message % args))

    def warning(self, message: str, *args: object) -> None:
        self.lines.append(("warning", message % args))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def artifacts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float, str | None]]:
    calls: list[tuple[str, float, str | None]] = []
    made = uuid4()

    def create(progress: float, key: str | None = None, description: str | None = None) -> UUID:
        calls.append(("create", progress, key))
        return made

    def update(artifact_id: UUID, progress: float, description: str | None = None) -> UUID:
        assert artifact_id == made
        calls.append(("update", progress, description))
        return made

    monkeypatch.setattr(data_tasks, "create_progress_artifact", create)
    monkeypatch.setattr(data_tasks, "update_progress_artifact", update)
    return calls


def copying(done: int, total: int = 1000, **extra: Any) -> TransferProgress:
    return TransferProgress(phase="copy", attempt=1, bytes=done, total_bytes=total, files=1,
                            total_files=4, rate=2048.0, eta_s=75, **extra)


def test_the_artifact_and_the_log_are_updated_at_a_bounded_rate(artifacts: list[Any]) -> None:
    clock, logger = Clock(), Logger()
    reporter = ProgressReporter("Stage-in of job k1", key="stage-in-k1", logger=logger, clock=clock)
    for second in range(0, 25):  # rclone's stats every second
        clock.now = float(second)
        reporter(copying(second * 40))
    assert [call[0] for call in artifacts] == ["create"] + ["update"] * 8  # every 3 s
    assert artifacts[0] == ("create", 0.0, "stage-in-k1")
    assert [line for level, line in logger.lines if level == "info"] == [
        "Stage-in of job k1: 0 B of 1000 B (0%), 1/4 file(s), 2.0 KiB/s, ETA 1 min 15 s",
        "Stage-in of job k1: 400 B of 1000 B (40%), 1/4 file(s), 2.0 KiB/s, ETA 1 min 15 s",
        "Stage-in of job k1: 800 B of 1000 B (80%), 1/4 file(s), 2.0 KiB/s, ETA 1 min 15 s"]
    assert artifacts[-1][1] == pytest.approx(96.0)


def test_a_retry_is_shown_at_once(artifacts: list[Any]) -> None:
    clock, logger = Clock(), Logger()
    reporter = ProgressReporter("T", logger=logger, clock=clock)
    reporter(copying(10))
    clock.now = 0.5
    reporter(TransferProgress(phase="retry", attempt=1, eta_s=4, note="connection reset"))
    assert logger.lines[-1] == ("warning", "T: attempt 1 failed (connection reset); trying again in 4 s")
    assert len(artifacts) == 2


def test_the_finished_transfer_shows_100_percent(artifacts: list[Any]) -> None:
    reporter = ProgressReporter("T", logger=Logger(), clock=Clock())
    reporter.finished(TransferReport(source="a", destination="b", files_checked=4,
                                     files_transferred=1, bytes_transferred=2048, duration_s=2.5))
    assert artifacts[-1][1] == 100.0


def test_a_ui_that_refuses_updates_does_not_stop_the_transfer(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: Any) -> UUID:
        raise RuntimeError("Prefect API unreachable")

    monkeypatch.setattr(data_tasks, "create_progress_artifact", refuse)
    clock, logger = Clock(), Logger()
    reporter = ProgressReporter("T", logger=logger, clock=clock)
    for second in range(10):
        clock.now = float(second)
        reporter(copying(second))
    warnings = [line for level, line in logger.lines if level == "warning"]
    assert warnings == ["T: progress not shown in the UI (Prefect API unreachable)"]


def test_each_phase_reads_as_a_sentence() -> None:
    assert describe(TransferProgress(phase="check", attempt=1, files=3, total_files=10)) == \
        "compared 10 file(s): 7 to copy"
    assert describe(TransferProgress(phase="verify", attempt=1, files=7, total_files=7)) == \
        "verified 7 of 7 copied file(s) by checksum"
    assert describe(TransferProgress(phase="copy", attempt=1, bytes=1, total_bytes=2)) == \
        "1 B of 2 B (50%), 0/0 file(s), 0 B/s, ETA unknown"


def test_the_task_moves_records_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            artifacts: list[Any]) -> None:
    logger = Logger()
    monkeypatch.setattr(data_tasks, "get_run_logger", lambda: logger)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("alpha")
    (tmp_path / "src" / "skip.tmp").write_text("x")
    url = f"sqlite:///{tmp_path / 'heroes.db'}"
    report = data_tasks.transfer.fn(
        LocalLocation(path=str(tmp_path / "src")), LocalLocation(path=str(tmp_path / "dst")),
        Requester(organisation="acme", user="ann", job_key="k1"), exclude=["*.tmp"],
        database=HeroesDatabase(url=url))
    assert (report.files_transferred, report.bytes_transferred) == (1, 5)
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["a.txt"]
    (row,) = TransferLog(shared_database(url)).list(organisation="acme")
    assert row.outcome is TransferOutcome.SUCCEEDED and row.job_key == "k1"
    assert row.what == "whole directory excluding *.tmp"
    assert artifacts[0] == ("create", 0.0, "transfer-k1") and artifacts[-1][1] == 100.0
    assert logger.lines[-1][1].startswith(
        f"Transfer local:{tmp_path / 'src'} -> local:{tmp_path / 'dst'}: done: 1 of 1 file(s) "
        "copied, 5 B in ")
