"""The search log sink against the test bed's real OpenSearch node: the index template, bulk
shipping, and the node going away behind a proxy the test switches off and on (spooled,
replayed in order, nothing lost, nothing stored twice). Also the LogSink block, saved in Prefect
and picked by HEROES_LOG_SINK, the way a process is switched over."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

import heroes_core.logs as logs
from heroes_core.logs.search import SearchSink
from tests.integration.conftest import free_port


@pytest.fixture(scope="module")
def search_url(testbed: dict[str, Any]) -> str:
    """The test bed's OpenSearch node (testbed.json "search": {"url": ...}); its absence fails."""
    url = (testbed.get("search") or {}).get("url")
    if not url:
        pytest.fail("testbed.json has no search node (\"search\": {\"url\": ...}): run scripts/testbed.sh up "
                    "with the OpenSearch part", pytrace=False)
    client = OpenSearch(hosts=[url], max_retries=0, timeout=10)
    try:
        client.cluster.health(wait_for_status="yellow", request_timeout=40)
    except Exception as exc:
        pytest.fail(f"the test bed's search node at {url} does not answer: {exc}", pytrace=False)
    return str(url)


@pytest.fixture
def search(search_url: str) -> OpenSearch:
    return OpenSearch(hosts=[search_url], max_retries=0, timeout=30)


@pytest.fixture
def prefix(search: OpenSearch) -> Iterator[str]:
    """An index prefix of this test's own; its indices and template are removed after."""
    name = f"heroes-itest-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(Exception):
        search.indices.delete(index=f"{name}-*")
    with contextlib.suppress(Exception):
        search.indices.delete_index_template(name=name)


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    logs.reset()
    logs.SECRETS.clear()
    root.handlers[:] = handlers


class Proxy:
    """A TCP proxy to the node that the test can take down (connections refused, open ones cut)
    and bring back on the same port: the cluster going away, as the sink sees it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept and stops listening
            server.close()
        with self._lock:
            for each in self._open:
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)
                    each.close()
            self._open.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def target_of(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 9200


def logger_for(sink: logs.LogSink, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [logs.SinkHandler(sink)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def indexed(search: OpenSearch, prefix: str, run: str) -> list[dict[str, Any]]:
    """The records of ``run`` in the order the node indexed them (its sequence numbers: the
    template gives one shard, and an overwrite would take a new number)."""
    search.indices.refresh(index=f"{prefix}-*")
    found = search.search(index=f"{prefix}-*", body={
        "query": {"term": {"heroes.job_key": run}}, "size": 10_000, "seq_no_primary_term": True,
        "sort": [{"_seq_no": "asc"}]})
    return [hit["_source"] | {"_id": hit["_id"]} for hit in found["hits"]["hits"]]


def test_records_reach_the_node_with_the_template_and_typed_heroes_fields(
        search_url: str, search: OpenSearch, prefix: str, tmp_path: Path) -> None:
    sink = SearchSink.connect(search_url, spool_dir=tmp_path / "spool", index_prefix=prefix, batch_size=50)
    logger = logger_for(sink, "heroes_core.itest.search")
    run = uuid.uuid4().hex
    with logs.log_context(organisation="itest", user="alice", job_key=run, site="local-slurm"):
        for number in range(120):
            logger.info("record %03d", number)
    assert sink.flush()
    sink.close()
    template = search.indices.get_index_template(name=prefix)["index_templates"][0]["index_template"]
    assert template["index_patterns"] == [f"{prefix}-*"]
    mapping = next(iter(search.indices.get_mapping(index=f"{prefix}-*").values()))["mappings"]
    heroes = mapping["properties"]["heroes"]["properties"]
    assert {name: heroes[name]["type"] for name in ("organisation", "user", "job_key", "site")} == \
        dict.fromkeys(("organisation", "user", "job_key", "site"), "keyword")
    records = indexed(search, prefix, run)
    assert [r["message"] for r in records] == [f"record {n:03d}" for n in range(120)]
    assert all(r["_id"] == r["event"]["id"] for r in records)
    assert sink.stats.shipped == 120 and sink.stats.spooled == 0


def test_the_node_going_away_then_back_loses_nothing_keeps_order_and_stores_nothing_twice(
        search_url: str, search: OpenSearch, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proxy = Proxy(target_of(search_url))
    sink = SearchSink.connect(proxy.url, spool_dir=tmp_path / "spool", index_prefix=prefix, batch_size=100,
                              timeout=5, retry_interval=0.2)
    logger = logger_for(sink, "heroes_core.itest.outage")
    run = uuid.uuid4().hex
    expected: list[str] = []

    def log(count: int) -> None:
        with logs.log_context(organisation="itest", job_key=run):
            for _ in range(count):
                expected.append(f"record {len(expected):04d}")
                logger.info(expected[-1])

    log(150)
    assert sink.flush()
    proxy.down()
    log(430)
    assert not sink.flush(), "the node is away: records must be waiting in the spool"
    assert sink.stats.spooled > 0 and sink.spool.segments()
    proxy.up()
    log(20)
    assert sink.flush()
    sink.close()
    proxy.down()
    records = indexed(search, prefix, run)
    assert len(records) == len(expected) == 600
    assert len({r["_id"] for r in records}) == 600
    assert [r["message"] for r in records] == expected
    assert sink.spool.segments() == []
    err = capsys.readouterr().err
    assert err.count("does not take log records") == 1, err
    assert "takes log records again" in err


def test_the_log_sink_block_named_by_heroes_log_sink_switches_a_process_over(
        search_url: str, search: OpenSearch, prefix: str, tmp_path: Path, blocks: dict[str, str]) -> None:
    from heroes.blocks import LogSink
    from heroes.blocks.log_sink import configure_logging

    name = f"itest-{prefix}"
    LogSink(kind="search", url=search_url, index_prefix=prefix, spool_dir=str(tmp_path / "spool"),
            password="not-a-real-password-1234").save(name, overwrite=True)  # type: ignore[arg-type]
    try:
        assert configure_logging({"HEROES_LOG_FORMAT": "ecs", "HEROES_LOG_SINK": name})
        run = uuid.uuid4().hex
        with logs.log_context(organisation="itest", job_key=run):
            logging.getLogger("heroes_core.itest.block").info("through the block, password %s",
                                                              "not-a-real-password-1234")
        logs.shutdown()
        (record,) = indexed(search, prefix, run)
        assert record["message"] == "through the block, password ***"  # the block's secret, registered
        assert logs.validate_line(logs.to_ndjson({k: v for k, v in record.items() if k != "_id"}))
    finally:
        LogSink.delete(name)


def test_an_unknown_sink_block_is_reported_and_logging_goes_on(blocks: dict[str, str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from heroes.blocks.log_sink import configure_logging

    assert configure_logging({"HEROES_LOG_FORMAT": "ecs", "HEROES_LOG_SINK": f"missing-{uuid.uuid4().hex}"})
    logging.getLogger("heroes_core.itest.nosink").warning("still logged")
    err = capsys.readouterr().err
    assert "cannot open the log sink block" in err
    assert '"message":"still logged"' in err
