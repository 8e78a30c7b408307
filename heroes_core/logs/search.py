"""Shipping ECS documents to an OpenSearch (or Elasticsearch-compatible) cluster, in batches,
through a disk spool when the cluster is away.

The client is ``opensearch-py``. The ``elasticsearch`` Python client (8 and 9) checks that the
server it talks to is Elastic's own (the ``X-Elastic-Product`` header) and refuses anything
else, OpenSearch included; ``opensearch-py`` talks to OpenSearch and to Elasticsearch 7's API
alike, so one client serves both.

How nothing accepted is lost, and nothing is stored twice:

* ``write`` only appends to a bounded in-memory buffer; one background thread ships it.
* A batch goes to the cluster through the bulk API, each document under a deterministic id (a
  hash of the record's identity: time, host, process, sequence number, logger, message).
* When the cluster cannot take a batch (unreachable, overloaded, refusing credentials), the
  batch becomes a spool segment on disk. From then on new batches queue behind it in the spool,
  so order is kept, and the spool is replayed oldest first, retrying with back-off, until it is
  empty. A replay that repeats documents already stored overwrites them under the same ids.
* A burst faster than the cluster waits on disk too: once half of the in-memory buffer
  (``max_buffer`` documents) is full, the shipper moves full batches to the spool, and a writer
  finding the buffer full waits up to ``max_wait`` seconds for room (a disk write away).
* When the spool cannot be written either (disk full), batches stay in memory up to
  ``max_buffer`` documents; past that, new records are refused and counted, never those already
  accepted. Each of these conditions is reported once on standard error, and clears likewise.
* Documents the cluster refuses for good (a mapping conflict) go to ``rejected.ndjson`` in the
  spool directory with the cluster's reason, instead of blocking the queue forever.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    TransportError,
)

from heroes_core.logs.report import FailureReporter
from heroes_core.logs.schema import index_template
from heroes_core.logs.sinks import LogSink
from heroes_core.logs.spool import Spool, Spooled

SHIPPER_THREAD = "heroes-log-shipper"
DEFAULT_INDEX_PREFIX = "heroes-logs"


def document_id(document: Mapping[str, Any]) -> str:
    """The document's id in the cluster: a hash of the record's identity.

    The same record always hashes the same, so a replay overwrites rather than duplicates; two
    records differ at least by their handler's sequence number or their time.
    """
    def get(*path: str) -> Any:
        node: Any = document
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        return node

    identity = [document.get("@timestamp"), get("host", "hostname"), get("process", "pid"),
                get("process", "thread", "id"), get("event", "sequence"), get("log", "logger"),
                document.get("message")]
    return hashlib.sha256(json.dumps(identity, default=str).encode()).hexdigest()[:32]


def index_for(prefix: str, document: Mapping[str, Any]) -> str:
    """The daily index a document goes to: ``<prefix>-YYYY.MM.DD`` of its ``@timestamp``."""
    stamp = document.get("@timestamp")
    day = stamp[:10] if isinstance(stamp, str) and len(stamp) >= 10 else datetime.now(UTC).date().isoformat()
    return f"{prefix}-{day.replace('-', '.')}"


class _Unavailable(Exception):
    """The cluster did not take a batch; ``kind`` says why, for the once-per-kind report."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _NotFromShipper(logging.Filter):
    """Keeps the HTTP client's per-request warnings of the shipper thread out of the logs: the
    sink reports an unreachable cluster once, not once per retry."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.threadName.startswith(SHIPPER_THREAD) if record.threadName else True


_QUIET = _NotFromShipper()
for _name in ("opensearch", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_QUIET)


class SearchSink(LogSink):
    """A search cluster, fed in bulk batches, through a disk spool when it cannot be reached."""

    def __init__(self, client: OpenSearch, *, spool_dir: Path | str, index_prefix: str = DEFAULT_INDEX_PREFIX,
                 batch_size: int = 500, flush_interval: float = 2.0, max_buffer: int = 50_000,
                 spool_max_bytes: int = 2**30, retry_interval: float = 2.0, max_retry_interval: float = 60.0,
                 max_wait: float = 1.0, where: str = "the log cluster",
                 reporter: FailureReporter | None = None) -> None:
        super().__init__(reporter)
        self.client = client
        self.index_prefix = index_prefix
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.max_wait = max_wait
        self.where = where
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes)
        self._retry_interval = retry_interval
        self._max_retry_interval = max_retry_interval
        self._delay = retry_interval
        self._next_retry = 0.0
        self._hold_until = 0.0
        self._template_installed = False
        self._backlog = bool(self.spool.segments())  # left by an earlier process: replayed first
        self._buffer: deque[Spooled] = deque()
        self._in_flight = 0
        self._spool_failing = False
        self._refusing = False
        self._cond = threading.Condition()
        self._requested = 0  # flush generations asked for ...
        self._settled = 0  # ... and the last one the shipper has finished
        self._closing = False
        self._worker = threading.Thread(target=self._run, name=SHIPPER_THREAD, daemon=True)
        self._worker.start()

    @classmethod
    def connect(cls, url: str, *, spool_dir: Path | str, username: str | None = None,
                password: str | None = None, verify_certs: bool = True, ca_certs: str | None = None,
                timeout: float = 10.0, **options: Any) -> SearchSink:
        """A sink for the cluster at ``url`` (``https://user@host:9200`` style URLs work too)."""
        client = OpenSearch(hosts=[url], http_auth=(username, password or "") if username else None,
                            verify_certs=verify_certs, ca_certs=ca_certs, timeout=timeout,
                            max_retries=0, retry_on_timeout=False, http_compress=True)
        return cls(client, spool_dir=spool_dir, where=f"the log cluster at {url}", **options)

    # -- the caller's side: never blocks on the network, never raises ------------------------

    def write(self, document: Mapping[str, Any]) -> bool:
        try:
            doc = dict(document)
            doc_id = document_id(doc)
            event = doc.get("event")
            doc["event"] = {**(event if isinstance(event, Mapping) else {}), "id": doc_id}
            item = Spooled(index_for(self.index_prefix, doc), doc_id, doc)
        except Exception as exc:
            self.stats.add(dropped=1)
            self.reporter.failed("document", f"a log record could not be prepared for {self.where} "
                                             f"({exc!r}); it is dropped")
            return False
        with self._cond:
            if len(self._buffer) >= self.max_buffer and not self._spool_failing and not self._closing:
                # A burst: wait briefly for the shipper to move a batch to the spool (disk, not
                # the network); never when the spool itself is failing.
                self._cond.notify_all()
                self._cond.wait_for(lambda: len(self._buffer) < self.max_buffer or self._closing,
                                    self.max_wait)
            if self._closing or len(self._buffer) >= self.max_buffer:
                self.stats.add(dropped=1)
                self._refusing = True
                self.reporter.failed("buffer", f"{self.max_buffer} log records are waiting in memory "
                                               f"for {self.where} and the spool {self.spool.directory}; "
                                               "new records are dropped (counted) until they drain")
                return False
            self._buffer.append(item)
            self.stats.add(accepted=1)
            if self._refusing:
                self._refusing = False
                self.reporter.cleared("buffer", f"taking log records again ({self.stats.dropped} "
                                                "dropped in all)")
            if len(self._buffer) >= self.batch_size:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Ship (or spool) everything accepted so far and try the spool now; true when nothing
        is left waiting, in memory or on disk."""
        if not self._worker.is_alive():
            return not self._buffer and not self._backlog
        with self._cond:
            self._requested += 1
            generation = self._requested
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._settled >= generation, timeout)
            return not self._buffer and not self._backlog

    def close(self, timeout: float = 30.0) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._requested += 1
            self._cond.notify_all()
        self._worker.join(timeout)
        if self._buffer:
            self.reporter.failed("lost", f"{len(self._buffer)} log records could be neither shipped to "
                                         f"{self.where} nor spooled to {self.spool.directory} before "
                                         "the sink closed; they are lost")

    def owns_current_thread(self) -> bool:
        return threading.current_thread() is self._worker

    @property
    def waiting(self) -> int:
        """Documents accepted and still in memory (queued, or in a batch being shipped)."""
        with self._cond:
            return len(self._buffer) + self._in_flight

    # -- the shipper thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                deadline = time.monotonic() + self.flush_interval
                due = False
                while not self._closing and self._settled >= self._requested:
                    now = time.monotonic()
                    if len(self._buffer) >= self.batch_size and now >= self._hold_until:
                        break
                    if now >= deadline:
                        due = True
                        break
                    self._cond.wait(deadline - now)
                generation, closing = self._requested, self._closing
            forced = closing or generation > self._settled
            try:
                self._pass(forced, drain=forced or due)
            except Exception as exc:  # a bug here must not stop the shipping of later records
                self.reporter.failed("shipper", f"the log shipper hit {exc!r}; it keeps going")
            with self._cond:
                self._settled = max(self._settled, generation)
                self._cond.notify_all()
            if closing:
                return

    def _take(self, drain: bool) -> list[Spooled]:
        """The next batch: a full one, or (``drain``) whatever is there."""
        with self._cond:
            if not drain and len(self._buffer) < self.batch_size:
                return []
            count = min(len(self._buffer), self.batch_size)
            self._in_flight = count
            taken = [self._buffer.popleft() for _ in range(count)]
            self._cond.notify_all()  # room for a writer waiting on a full buffer
            return taken

    def _settle(self, put_back: list[Spooled] | None = None) -> None:
        """The batch taken is shipped or spooled, or (``put_back``) back at the buffer's head."""
        with self._cond:
            if put_back:
                self._buffer.extendleft(reversed(put_back))
            self._in_flight = 0

    def _pass(self, forced: bool, drain: bool) -> None:
        """Replay the spool if it is time to, then ship full batches (all, if ``drain``)."""
        if self._backlog and (forced or time.monotonic() >= self._next_retry):
            self._replay()
        while items := self._take(drain):
            if not self._backlog and self._behind():
                self._settle(put_back=items)
                if self._spill():
                    continue
                items = self._take(drain)  # the spool is full: straight to the cluster after all
                if not items:
                    return
            try:
                placed = self._place(items)
            except BaseException:
                self._settle(put_back=items)  # a bug must not lose the batch
                raise
            if not placed:
                self._settle(put_back=items)
                return
            self._settle()

    def _place(self, items: list[Spooled]) -> bool:
        """Ship ``items``, or spool them; false when neither could take them."""
        if not self._backlog:
            try:
                self._send(items)
                self._recovered()
                return True
            except _Unavailable as exc:
                self._went_down(exc)
        return self._to_spool(items)

    def _behind(self) -> bool:
        """Records arrive faster than the cluster takes them: half the buffer is full."""
        return len(self._buffer) >= self.max_buffer // 2

    def _spill(self) -> bool:
        """Move the buffer's full batches to the spool (behind what is there), so a burst
        waits on disk rather than filling memory; false if the spool cannot take them."""
        while len(self._buffer) >= self.batch_size:
            items = self._take(drain=False)
            try:
                spooled = self._to_spool(items)
            except BaseException:
                self._settle(put_back=items)
                raise
            if not spooled:
                self._settle(put_back=items)
                return False
            self._settle()
        return True

    def _to_spool(self, items: list[Spooled]) -> bool:
        try:
            self.spool.append(items)
        except OSError as exc:
            # Hold full batches back until the next retry, rather than retrying in a loop.
            self._hold_until = time.monotonic() + max(self._delay, 1.0)
            self._spool_failing = True
            self.reporter.failed("spool", f"cannot spool log records to {self.spool.directory} ({exc}); "
                                          f"{self.waiting} records are held in memory (at most "
                                          f"{self.max_buffer}) until {self.where} or the spool takes them. "
                                          "Fix: free space on that disk or bring the cluster back")
            return False
        self._backlog = True
        self._spool_failing = False
        self.stats.add(spooled=len(items))
        self.reporter.cleared("spool", f"spooling log records to {self.spool.directory} again")
        return True

    def _replay(self) -> None:
        """Ship the spool, oldest segment first, until it is empty (records spilled meanwhile
        included) or the cluster stops taking them."""
        replayed = 0
        try:
            while segments := self.spool.segments():
                items = self.spool.read(segments[0])
                for start in range(0, len(items), self.batch_size):
                    self._send(items[start:start + self.batch_size])
                    if self._behind():
                        self._spill()
                self.spool.remove(segments[0])
                replayed += len(items)
        except _Unavailable as exc:
            self._went_down(exc)
            return
        finally:
            self.stats.add(replayed=replayed)
        self._backlog = False
        self._recovered()

    def _recovered(self) -> None:
        self._delay = self._retry_interval
        self._next_retry = 0.0
        for kind in ("unreachable", "refused", "unexpected"):
            self.reporter.cleared(kind, f"{self.where} takes log records again; nothing is waiting "
                                        "in the spool")

    def _went_down(self, exc: _Unavailable) -> None:
        self._next_retry = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, self._max_retry_interval)
        self.reporter.failed(exc.kind, f"{self.where} does not take log records ({exc}); they are "
                                       f"spooled to {self.spool.directory} and will be replayed in "
                                       "order when it does")

    def _call(self, what: str, call: Any, **arguments: Any) -> Any:
        try:
            return call(**arguments)
        except (AuthenticationException, AuthorizationException) as exc:
            raise _Unavailable("refused", f"{what} refused: {exc.status_code} {exc.error}") from exc
        except ConnectionError as exc:  # also ConnectionTimeout and SSLError
            raise _Unavailable("unreachable", f"{what}: cannot connect ({exc.error})") from exc
        except TransportError as exc:
            status = exc.status_code
            busy = not isinstance(status, int) or status == 429 or status >= 500
            raise _Unavailable("unreachable" if busy else "refused",
                               f"{what}: {status} {exc.error}") from exc
        except Exception as exc:
            raise _Unavailable("unexpected", f"{what}: {exc!r}") from exc

    def _send(self, items: list[Spooled]) -> None:
        """Index ``items`` in one bulk request; raise ``_Unavailable`` unless all were taken
        (or refused for good, which sends them to the dead-letter file)."""
        if not self._template_installed:
            self._call("installing the index template", self.client.indices.put_index_template,
                       name=self.index_prefix, body=index_template(self.index_prefix))
            self._template_installed = True
        body: list[dict[str, Any]] = []
        for item in items:
            body.append({"index": {"_index": item.index, "_id": item.id}})
            body.append(item.document)
        response = self._call("bulk indexing", self.client.bulk, body=body)
        rejected: list[tuple[Spooled, str]] = []
        retry = 0
        if response.get("errors"):
            for item, result in zip(items, response.get("items", []), strict=False):
                outcome = result.get("index", {})
                status = int(outcome.get("status", 0))
                if 200 <= status < 300:
                    continue
                if status == 429 or status >= 500:
                    retry += 1
                else:
                    rejected.append((item, json.dumps(outcome.get("error"), default=str)))
        if rejected:
            try:
                self.spool.dead_letter(rejected)
            except OSError as exc:
                raise _Unavailable("unexpected", f"cannot keep refused records ({exc})") from exc
            self.stats.add(rejected=len(rejected))
            self.reporter.failed("rejected", f"{self.where} refused {len(rejected)} log record(s) for "
                                             f"good ({rejected[0][1][:300]}); they are kept in "
                                             f"{self.spool.directory}/rejected.ndjson")
        if retry:
            raise _Unavailable("unreachable", f"bulk indexing: {retry} record(s) refused for now "
                                              "(overloaded)")
        self.stats.add(shipped=len(items) - len(rejected))
