"""The search sink, against a fake node behind opensearch-py's real client: batched bulk
requests, the template first, and through a node that goes away: spooled, replayed in order,
nothing lost, nothing stored twice; a full spool disk; records the node refuses for good."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

import heroes_core.logs as logs
from heroes_core.logs.search import SearchSink, document_id
from tests.unit.heroes_core.logs.fakes import FakeNode, fake_client
from tests.unit.heroes_core.logs.helpers import Reported


def make_sink(node: FakeNode, tmp_path: Path, reporter: Reported, **options) -> SearchSink:  # type: ignore[no-untyped-def]
    options.setdefault("batch_size", 100)
    options.setdefault("flush_interval", 60.0)  # the tests flush; no timed shipping behind their back
    options.setdefault("retry_interval", 0.0)
    return SearchSink(fake_client(node), spool_dir=tmp_path / "spool", reporter=reporter, **options)


def log_records(sink: SearchSink, start: int, count: int) -> list[str]:
    """Log ``count`` records through the handler; the messages, in order."""
    logger = logging.getLogger("heroes.test.search")
    handler = next((h for h in logger.handlers if getattr(h, "sink", None) is sink), None)
    if handler is None:
        logger.handlers[:] = [logs.SinkHandler(sink)]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    messages = [f"record {n:05d}" for n in range(start, start + count)]
    with logs.log_context(organisation="acme", job_key="k-1"):
        for message in messages:
            logger.info(message)
    return messages


def stored_in_order(node: FakeNode) -> list[str]:
    docs = sorted(node.stored, key=lambda doc: doc["event"]["sequence"])
    return [doc["message"] for doc in docs]


def received_messages(node: FakeNode) -> list[str]:
    by_id = {doc["event"]["id"]: doc["message"] for doc in node.stored}
    return [by_id[doc_id] for doc_id in node.received if doc_id in by_id]


def test_records_go_in_bulk_batches_after_the_index_template(tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    sink = make_sink(node, tmp_path, reported)
    messages = log_records(sink, 0, 250)
    assert sink.flush()
    sink.close()
    assert node.requests[0][0] == "PUT" and node.requests[0][1] == "/_index_template/heroes-logs"
    bulks = [r for r in node.requests if r[1].startswith("/_bulk")]
    assert len(bulks) == 3  # 100 + 100 + 50
    assert node.templates["heroes-logs"]["index_patterns"] == ["heroes-logs-*"]
    assert stored_in_order(node) == messages
    (index,) = node.indices
    assert index.startswith("heroes-logs-") and len(index) == len("heroes-logs-2024.01.31")
    for doc in node.stored:
        assert doc["event"]["id"] == document_id(doc)
        assert doc["heroes"] == {"organisation": "acme", "job_key": "k-1"}
    assert sink.stats.shipped == 250 and not reported.lines


def test_spool_and_replay_with_the_node_down_then_up_keeps_count_and_order_without_duplicates(
        tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    sink = make_sink(node, tmp_path, reported)
    first = log_records(sink, 0, 150)
    assert sink.flush()
    node.up = False
    second = log_records(sink, 150, 420)
    assert not sink.flush()  # waiting on disk
    assert len(sink.spool.segments()) == 5
    assert sink.stats.spooled == 420
    assert len(reported.lines) == 1 and "does not take log records" in reported.lines[0]
    node.up = True
    third = log_records(sink, 570, 30)  # queued behind the spool, not ahead of it
    assert sink.flush()
    sink.close()
    assert sink.spool.segments() == []
    expected = first + second + third
    assert len(node.stored) == len(expected) == 600
    assert stored_in_order(node) == expected
    assert received_messages(node) == expected  # shipped in the order logged
    assert len(set(node.received)) == len(node.received)
    assert "takes log records again" in reported.lines[-1]


def test_a_replay_cut_short_is_finished_later_with_no_duplicates(tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    sink = make_sink(node, tmp_path, reported)
    node.up = False
    messages = log_records(sink, 0, 500)
    sink.flush()
    node.up, node.fail_after = True, 2  # two bulk requests, then the node dies mid-replay
    sink.flush()
    assert 0 < len(node.stored) < 500 and sink.spool.segments()
    node.up, node.fail_after = True, None
    assert sink.flush()
    sink.close()
    assert stored_in_order(node) == messages  # every record once, the resent ones overwritten
    assert len(node.received) >= 500


def test_a_burst_faster_than_the_node_waits_on_disk_and_none_is_dropped(tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    node.delay = 0.02
    sink = make_sink(node, tmp_path, reported, batch_size=50, max_buffer=400)
    messages = log_records(sink, 0, 3000)
    assert sink.flush(timeout=120)
    sink.close()
    assert sink.stats.dropped == 0 and sink.stats.spooled > 0
    assert stored_in_order(node) == messages
    assert received_messages(node) == messages
    assert not reported.lines  # nothing failed: a burst is not an outage


def test_a_new_sink_replays_what_an_earlier_process_left_in_the_spool(tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    node.up = False
    earlier = make_sink(node, tmp_path, reported)
    messages = log_records(earlier, 0, 120)
    earlier.close()  # the process ends with the node still away
    assert len(earlier.spool.segments()) == 2
    node.up = True
    later = make_sink(node, tmp_path, Reported())
    assert later.flush()
    later.close()
    assert stored_in_order(node) == messages


def test_a_full_spool_disk_keeps_accepted_records_in_memory_and_refuses_only_new_ones(
        tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    node.up = False
    sink = make_sink(node, tmp_path, reported, spool_max_bytes=2**20, max_buffer=300)
    sink.spool.max_bytes = 10  # the disk is "full": no segment fits
    messages = log_records(sink, 0, 300)
    sink.flush()
    assert sink.waiting == 300 and sink.spool.segments() == []
    refused = log_records(sink, 300, 5)
    assert sink.stats.dropped == 5 and sink.stats.accepted == 300
    assert any("cannot spool log records" in line for line in reported.lines)
    assert any("new records are dropped" in line for line in reported.lines)
    assert len(reported.lines) == 3  # unreachable, spool, buffer: once each
    node.up = True
    assert sink.flush()
    sink.close()
    assert stored_in_order(node) == messages
    assert not set(refused) & set(stored_in_order(node))


def test_records_the_node_refuses_for_good_go_to_the_dead_letter_file_and_the_rest_flow_on(
        tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    sink = make_sink(node, tmp_path, reported)
    original_bulk = node._bulk

    def refuse_the_third(body: bytes):  # type: ignore[no-untyped-def]
        third = json.loads(body.decode().splitlines()[4])["index"]["_id"]
        node.refuse_ids.add(third)  # as a mapping conflict would
        return original_bulk(body)

    node._bulk = refuse_the_third  # type: ignore[method-assign]
    messages = log_records(sink, 0, 10)
    assert sink.flush()
    more = log_records(sink, 10, 5)  # the queue is not blocked behind the refused record
    assert sink.flush()
    sink.close()
    assert stored_in_order(node) == [m for m in messages + more if m not in ("record 00002", "record 00012")]
    dead = (tmp_path / "spool" / "rejected.ndjson").read_text().splitlines()
    assert [json.loads(line)["document"]["message"] for line in dead] == ["record 00002", "record 00012"]
    assert "mapper_parsing_exception" in dead[0]
    assert sink.stats.rejected == 2
    assert [line for line in reported.lines if "for good" in line] == [reported.lines[0]]
    assert "refused 1 log record(s) for good" in reported.lines[0]


def test_a_busy_node_429_is_retried_later_not_lost(tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    sink = make_sink(node, tmp_path, reported)
    original_bulk = node._bulk

    def busy_once(body: bytes):  # type: ignore[no-untyped-def]
        node.item_status[json.loads(body.decode().splitlines()[0])["index"]["_id"]] = 429
        node._bulk = original_bulk  # type: ignore[method-assign]
        return original_bulk(body)

    node._bulk = busy_once  # type: ignore[method-assign]
    messages = log_records(sink, 0, 50)
    sink.flush()
    assert sink.flush()
    sink.close()
    assert stored_in_order(node) == messages


def test_an_unreachable_cluster_through_the_real_client_is_reported_with_its_url_and_spooled(
        tmp_path: Path, reported: Reported) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    sink = SearchSink.connect(url, spool_dir=tmp_path / "spool", timeout=2, reporter=reported,
                              flush_interval=60.0)
    log_records(sink, 0, 20)
    assert not sink.flush()
    sink.close()
    assert sink.stats.spooled == 20 and sink.stats.dropped == 0
    assert len(reported.lines) == 1
    assert url in reported.lines[0] and "cannot connect" in reported.lines[0]
    assert str(tmp_path / "spool") in reported.lines[0]


def test_logging_never_raises_into_the_caller_when_the_sink_breaks(reported: Reported) -> None:
    class Broken(logs.LogSink):
        def write(self, document):  # type: ignore[no-untyped-def]
            raise RuntimeError("sink exploded")

    logger = logging.getLogger("heroes.test.broken")
    logger.handlers[:] = [logs.SinkHandler(Broken(reported))]
    logger.propagate = False
    for _ in range(3):
        logger.error("still running")
    assert len(reported.lines) == 1 and "sink exploded" in reported.lines[0]


def test_records_the_shipper_thread_logs_itself_do_not_feed_back(tmp_path: Path, reported: Reported) -> None:
    node = FakeNode()
    sink = make_sink(node, tmp_path, reported)
    handler = logs.SinkHandler(sink)
    opensearch = logging.getLogger("opensearch")
    opensearch.addHandler(handler)
    try:
        log_records(sink, 0, 10)
        sink.flush()
    finally:
        opensearch.removeHandler(handler)
        sink.close()
    assert {doc["log"]["logger"] for doc in node.stored} == {"heroes.test.search"}


@pytest.mark.parametrize("kind", ["file", "search"])
def test_sink_settings_open_the_sink_they_describe(kind: str, tmp_path: Path) -> None:
    settings = logs.SinkSettings(kind=kind, path=str(tmp_path / "f.ndjson"),  # type: ignore[arg-type]
                                 url="http://127.0.0.1:1" if kind == "search" else None,
                                 spool_dir=str(tmp_path / "spool"))
    sink = settings.open()
    try:
        assert type(sink).__name__ == {"file": "FileSink", "search": "SearchSink"}[kind]
    finally:
        sink.close()


def test_a_search_sink_without_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the cluster's url"):
        logs.SinkSettings(kind="search")
