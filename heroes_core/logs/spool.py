"""The disk spool of a search sink: what could not be shipped yet, in order, as NDJSON segments.

Each batch that cannot reach the cluster becomes one segment, written whole to a temporary
name and then renamed, so a segment on disk is always complete (a full disk leaves no
half-written segment: the batch stays in memory instead). Segments are never appended to;
their names sort in the order they were written (time, process, counter), and replay takes
them oldest first and deletes each once the cluster has all of it. A segment replayed twice
(a crash between shipping and deleting, two processes sharing the directory) does no harm:
documents carry deterministic ids, so the second copy overwrites the first.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEGMENT_SUFFIX = ".ndjson"
DEAD_LETTERS = "rejected.ndjson"


class SpoolFullError(OSError):
    """The spool has reached its size limit."""


@dataclass(frozen=True)
class Spooled:
    """One document waiting: the index it goes to, its id, and the document."""

    index: str
    id: str
    document: dict[str, Any]

    def to_line(self) -> str:
        return json.dumps({"index": self.index, "id": self.id, "document": self.document},
                          separators=(",", ":"), default=str, ensure_ascii=False)

    @classmethod
    def from_line(cls, line: str) -> Spooled:
        data = json.loads(line)
        return cls(index=data["index"], id=data["id"], document=data["document"])


class Spool:
    """A directory of append-only NDJSON segments, bounded to ``max_bytes``."""

    def __init__(self, directory: Path | str, *, max_bytes: int = 2**30) -> None:
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self._counter = itertools.count()
        self._bytes = self.size()  # kept up to date by append and remove, not read from disk each time

    def segments(self) -> list[Path]:
        """The segments waiting, oldest first."""
        return sorted(path for path in self.directory.iterdir()
                      if path.suffix == SEGMENT_SUFFIX and not path.name.startswith(".")
                      and path.name != DEAD_LETTERS)

    def size(self) -> int:
        total = 0
        for path in self.segments():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def append(self, items: list[Spooled]) -> Path:
        """Write ``items`` as a new segment; raise ``OSError`` (``SpoolFullError`` at the size
        limit) with nothing left on disk if it cannot be written whole."""
        data = "".join(item.to_line() + "\n" for item in items).encode()
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFullError(f"the spool {self.directory} holds {self.max_bytes} bytes already")
        name = f"{time.time_ns():020d}-{os.getpid():08d}-{next(self._counter):08d}{SEGMENT_SUFFIX}"
        temporary = self.directory / f".{name}.tmp"
        try:
            with open(temporary, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            final = self.directory / name
            temporary.rename(final)
            self._bytes += len(data)
            return final
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise

    def read(self, segment: Path) -> list[Spooled]:
        """The documents of ``segment`` in order (empty if another process replayed it first)."""
        try:
            with open(segment, encoding="utf-8") as stream:
                return [Spooled.from_line(line) for line in stream if line.strip()]
        except FileNotFoundError:
            return []

    def remove(self, segment: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            size = segment.stat().st_size
            segment.unlink()
            self._bytes = max(0, self._bytes - size)

    def dead_letter(self, items: list[tuple[Spooled, str]]) -> None:
        """Keep documents the cluster refused for good (with its reason), for a person to read."""
        with open(self.directory / DEAD_LETTERS, "a", encoding="utf-8") as stream:
            for item, reason in items:
                stream.write(json.dumps({"index": item.index, "id": item.id, "reason": reason,
                                         "document": item.document}, default=str) + "\n")

    def __iter__(self) -> Iterator[Path]:
        return iter(self.segments())
