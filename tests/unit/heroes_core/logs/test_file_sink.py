"""The NDJSON file sink: rotated by size, one valid ECS line per record, failures reported."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import heroes_core.logs as logs
from tests.unit.heroes_core.logs.helpers import Reported


def log_to(sink: logs.LogSink, count: int, name: str = "heroes.test.file") -> None:
    logger = logging.getLogger(name)
    logger.handlers[:] = [logs.SinkHandler(sink)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for number in range(count):
        logger.info("record %05d %s", number, "x" * 80)


def test_the_file_rotates_by_size_and_keeps_backup_count_files_every_line_valid(tmp_path: Path) -> None:
    sink = logs.FileSink(tmp_path / "heroes.ndjson", max_bytes=20_000, backup_count=50)
    log_to(sink, 500)
    sink.close()
    files = sorted(tmp_path.iterdir())
    assert len(files) > 5, "the file never rotated"
    assert all(path.stat().st_size <= 20_000 for path in files)
    # Oldest first: the highest number is the oldest copy, the file itself the newest.
    ordered = sorted((p for p in files if p.suffix != ".ndjson"), key=lambda p: -int(p.suffix[1:]))
    ordered.append(tmp_path / "heroes.ndjson")
    messages = [logs.validate_line(line).message for path in ordered for line in path.read_text().splitlines()]
    assert messages == [f"record {n:05d} {'x' * 80}" for n in range(500)]


def test_rotation_drops_the_oldest_copies_beyond_backup_count(tmp_path: Path) -> None:
    sink = logs.FileSink(tmp_path / "heroes.ndjson", max_bytes=5_000, backup_count=2)
    log_to(sink, 300)
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heroes.ndjson", "heroes.ndjson.1", "heroes.ndjson.2"]
    last = json.loads((tmp_path / "heroes.ndjson").read_text().splitlines()[-1])
    assert last["message"].startswith("record 00299")


def test_a_full_disk_is_reported_once_and_never_raises_into_the_caller(reported: Reported) -> None:
    sink = logs.FileSink("/dev/full", max_bytes=0, reporter=reported)  # every write: ENOSPC
    log_to(sink, 5, "heroes.test.full")
    assert sink.stats.dropped == 5 and sink.stats.accepted == 0
    assert len(reported.lines) == 1
    assert "cannot write log records to /dev/full" in reported.lines[0]
    assert "No space left on device" in reported.lines[0]
