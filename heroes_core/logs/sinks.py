"""Where ECS documents go: the sink interface, the rotated NDJSON file, and the handler that
feeds a sink from the logging tree without ever raising into the code that logged."""

from __future__ import annotations

import itertools
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from heroes_core.logs.ecs import HeroesEcsFormatter, to_ndjson
from heroes_core.logs.report import FailureReporter


@dataclass
class SinkStats:
    """What a sink did with the documents it was given (counters only grow)."""

    accepted: int = 0
    """Taken in: written, shipped, or held (memory or spool) until they can be."""
    dropped: int = 0
    """Refused at the door, because nowhere could hold them (reported on standard error)."""
    shipped: int = 0
    spooled: int = 0
    replayed: int = 0
    rejected: int = 0
    """Refused by the search cluster itself (a mapping conflict): kept in the dead-letter file."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)


class LogSink(ABC):
    """Takes ECS documents (nested dicts, already redacted) and keeps them somewhere.

    ``write`` never raises and never blocks on the network: it answers whether the document was
    accepted. An accepted document is not lost by a later failure of the sink's destination.
    """

    def __init__(self, reporter: FailureReporter | None = None) -> None:
        self.reporter = reporter or FailureReporter()
        self.stats = SinkStats()

    @abstractmethod
    def write(self, document: Mapping[str, Any]) -> bool: ...

    def flush(self, timeout: float | None = None) -> bool:
        """Push what is held as far as it can go now; true when nothing is left waiting."""
        return True

    def close(self) -> None:  # noqa: B027 - a sink holding nothing has nothing to release
        """Flush and release files, connections and threads; the sink takes nothing after."""

    def owns_current_thread(self) -> bool:
        """Whether the calling thread is the sink's own (records it logs must not feed it back)."""
        return False


class _FileHandler(RotatingFileHandler):
    """The stdlib's rotation (``doRollover``: rename to .1, .2, ..., drop the oldest), fed whole
    lines: the size check counts bytes itself instead of making a ``LogRecord`` per line and
    asking the stream where it is, which would double what a record costs to write."""

    def __init__(self, sink: FileSink, path: Path, max_bytes: int, backup_count: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True)
        self._sink = sink
        self._size = 0

    def write_line(self, line: str) -> bool:
        data = line + "\n"
        size = len(data.encode("utf-8"))
        with self.lock:  # type: ignore[union-attr]
            try:
                if self.stream is None:
                    self.stream = self._open()
                    self._size = self.stream.seek(0, 2)
                if self.maxBytes > 0 and self._size and self._size + size > self.maxBytes:
                    self.doRollover()
                    if self.stream is None:  # delay=True: the rollover leaves opening to us
                        self.stream = self._open()
                    self._size = 0
                self.stream.write(data)
                self.stream.flush()
                self._size += size
                return True
            except Exception as exc:
                self._sink.reporter.failed("file", f"cannot write log records to {self.baseFilename} "
                                                   f"({exc}); records are being dropped. Fix: free "
                                                   "space on that disk or point the log sink elsewhere.")
                return False


class FileSink(LogSink):
    """A local NDJSON file, one ECS document per line, rotated by size.

    Rotation is the standard library's ``RotatingFileHandler``: when a line would take the file
    past ``max_bytes`` it becomes ``<name>.1`` (older copies shift up to ``backup_count``, the
    oldest is deleted) and a new file starts. Each line is flushed as it is written, so a crash
    loses nothing already accepted.
    """

    def __init__(self, path: Path | str, *, max_bytes: int = 50 * 2**20, backup_count: int = 10,
                 reporter: FailureReporter | None = None) -> None:
        super().__init__(reporter)
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = _FileHandler(self, self.path, max_bytes, backup_count)

    def write(self, document: Mapping[str, Any]) -> bool:
        if not self._handler.write_line(to_ndjson(document)):
            self.stats.add(dropped=1)
            return False
        if self.stats.dropped:
            self.reporter.cleared("file", f"writing log records to {self.path} again")
        self.stats.add(accepted=1, shipped=1)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        self._handler.flush()
        return True

    def close(self) -> None:
        self._handler.close()


class SinkHandler(logging.Handler):
    """A logging handler that formats each record as an ECS document and gives it to a sink.

    It numbers the records it sees (``event.sequence``), which with the host, process and
    time makes each record's identity, hence its document id in a search cluster. It never
    raises into the caller: any failure is reported once on standard error.
    """

    def __init__(self, sink: LogSink, *, formatter: HeroesEcsFormatter | None = None,
                 level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.sink = sink
        self.ecs = formatter or HeroesEcsFormatter()
        self.setFormatter(self.ecs)
        self._sequence = itertools.count(1)

    def handle(self, record: logging.LogRecord) -> bool:
        # The sink's own thread (its HTTP client's records) is turned away before the handler's
        # lock: feeding them back would loop, and a writer holding the lock may be waiting on
        # that very thread for room in the sink.
        if self.sink.owns_current_thread():
            return False
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            document = self.ecs.format_to_ecs(record)
            event = document.setdefault("event", {})
            event.setdefault("sequence", next(self._sequence))
            self.sink.write(document)
        except Exception as exc:
            self.handleError(record, exc)

    def handleError(self, record: logging.LogRecord, exc: BaseException | None = None) -> None:
        self.sink.reporter.failed(f"handler:{type(exc).__name__}",
                                  f"a log record from {record.name} could not be formatted or "
                                  f"handed to the sink ({exc!r}); it is dropped")

    def flush(self) -> None:
        try:
            self.sink.flush()
        except Exception as exc:
            self.sink.reporter.failed("flush", f"flushing the log sink failed ({exc!r})")

    def close(self) -> None:
        try:
            self.sink.close()
        except Exception as exc:
            self.sink.reporter.failed("close", f"closing the log sink failed ({exc!r})")
        finally:
            super().close()
