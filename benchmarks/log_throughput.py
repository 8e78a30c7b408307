"""Log records per second through HEROES' ECS formatter and sinks, and what logging costs a flow.

Measured in one process, each figure the median of ``--rounds`` rounds:

* ``ecs_records_per_s``: ``logger.info`` with two arguments inside a HEROES log context, the
  record redacted as it is made (``configure``'s record factory) and formatted to an ECS JSON
  line by ``HeroesEcsFormatter``, written to ``/dev/null``. The baseline in the same run is the
  standard library's own ``logging.Formatter`` on the same records, printed beside it.
* ``sink_file_records_per_s``: the same records through ``SinkHandler`` into a ``FileSink``
  (rotated NDJSON, each line flushed), the file closed at the end.
* ``sink_search_records_per_s``: the same into a ``SearchSink`` on the test bed's OpenSearch
  node (testbed.json ``search.url``, or ``--search-url``), timed until every record is in the
  cluster (``flush`` returned with nothing waiting); its index and template are deleted after.
  ``null`` when no search node runs.
* ``logging_overhead``: a Prefect flow of 1,000 sequential tasks, each logging one line with
  its run logger inside a HEROES log context, with HEROES' logging on (``HEROES_LOG_FORMAT=ecs``:
  ECS on standard error and into a ``FileSink``, records redacted) and off (no local output at
  all: Prefect's console handler taken off the root logger; on both sides Prefect's API handler
  still sends the run's logs to the server, which the UI needs), alternating which goes first.
  The overhead is ``on / off - 1`` of the median wall times (target < 0.05), with the same
  ratio of the process's CPU times beside it. The flows run against a Prefect server of their
  own (``prefect_test_harness``: a real server on a temporary SQLite database), not the test
  bed's, which the integration tests share. Each run starts once the server has stored every
  task run of the one before, and ``--pause`` seconds more: the server takes task states in as
  events and writes them after a run has ended, and a run started while it is still writing
  meets 503s that the client retries seconds later, stalls that dwarf what is measured.
  ``--testbed-prefect`` uses the test bed's server all the same. Standard error is sent to
  /dev/null during the flows, for both sides alike, so the terminal's speed is not measured.

Prints a table, then a final JSON line. ``--records 20000 --rounds 1 --tasks 200`` is a quick run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _testbed import median, testbed

import heroes_core.logs as logs

CONTEXT = {"organisation": "bench", "project": "logs", "user": "alice", "workflow_id": "wf-bench",
           "job_key": "k-bench", "step": "main", "site": "local-slurm"}


def isolated_logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def rate(logger: logging.Logger, records: int, finish: Callable[[], object] = lambda: None) -> float:
    """Records per second through ``logger``, ``finish`` (flush, close) included."""
    started = time.perf_counter()
    with logs.log_context(**CONTEXT):
        for number in range(records):
            logger.info("job %s polled: state %s", number, "RUNNING")
    finish()
    return records / (time.perf_counter() - started)


def formatter_rates(records: int, rounds: int) -> tuple[float, float]:
    ecs, plain = [], []
    with open(os.devnull, "w") as null:
        for _ in range(rounds):
            handler = logging.StreamHandler(null)
            handler.setFormatter(logs.HeroesEcsFormatter())
            ecs.append(rate(isolated_logger("heroes.bench.ecs", handler), records))
            handler = logging.StreamHandler(null)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            plain.append(rate(isolated_logger("heroes.bench.plain", handler), records))
    return median(ecs), median(plain)


def file_rate(records: int, rounds: int) -> float:
    rates = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            sink = logs.FileSink(Path(folder) / "heroes.ndjson")
            logger = isolated_logger("heroes.bench.file", logs.SinkHandler(sink))
            rates.append(rate(logger, records, sink.close))
    return median(rates)


def search_url(given: str | None) -> str | None:
    if given:
        return given
    url = (testbed().get("search") or {}).get("url")
    return str(url) if url else None


def search_rate(url: str, records: int, rounds: int) -> float:
    from opensearchpy import OpenSearch

    from heroes_core.logs.search import SearchSink

    client = OpenSearch(hosts=[url], max_retries=0, timeout=30)
    rates = []
    for _ in range(rounds):
        prefix = f"heroes-bench-{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory() as folder:
            sink = SearchSink.connect(url, spool_dir=Path(folder), index_prefix=prefix, batch_size=1000)

            def shipped(sink: SearchSink = sink) -> None:
                if not sink.flush(timeout=600) or sink.stats.shipped != records:
                    raise SystemExit(f"the search node took {sink.stats.shipped} of {records} records")
                sink.close()

            try:
                rates.append(rate(isolated_logger("heroes.bench.search", logs.SinkHandler(sink)), records,
                                  shipped))
            finally:
                with contextlib.suppress(Exception):
                    client.indices.delete(index=f"{prefix}-*")
                with contextlib.suppress(Exception):
                    client.indices.delete_index_template(name=prefix)
    return median(rates)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Standard error to /dev/null at the descriptor, whoever holds the stream."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def settle(flow_run_id: str, tasks: int, pause: float) -> None:
    """Wait until the server has stored every task run of the run as completed (it takes task
    states in as events, and writes them after the run has ended), then ``pause`` more: the
    next run then starts on a server that is not still writing this one."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    body = {"flow_runs": {"id": {"any_": [flow_run_id]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            counted = httpx.post(f"{PREFECT_API_URL.value()}/task_runs/count", json=body, timeout=30)
            if counted.status_code == 200 and counted.json() >= tasks:
                break
        time.sleep(1)
    time.sleep(pause)


@contextlib.contextmanager
def prefect_server(testbed_prefect: bool) -> Iterator[None]:
    if testbed_prefect:
        os.environ["PREFECT_API_URL"] = testbed()["prefect"]["api_url"]
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    with quiet_stderr(), prefect_test_harness(server_startup_timeout=120):
        yield


def flow_overhead(tasks: int, rounds: int, pause: float) -> dict[str, tuple[float, float]]:
    """Median wall and CPU time of the 1,000-task flow with HEROES' logging off, and on."""
    from prefect import flow, get_run_logger, task

    @task
    def work(number: int) -> int:
        get_run_logger().info("task %d done", number)
        return number

    @flow(name="bench-log-overhead")
    def many(count: int) -> int:
        with logs.log_context(**CONTEXT):
            return sum(work(number) for number in range(count))

    def timed(on: bool, folder: Path) -> tuple[float, float]:
        root = logging.getLogger()
        consoles = [handler for handler in root.handlers if isinstance(handler, logging.StreamHandler)
                    and not isinstance(handler, logging.FileHandler)]
        if on:
            logs.configure("ecs", sink=logs.FileSink(folder / "flow.ndjson", max_bytes=2**30), environ={})
        else:
            for handler in consoles:  # off: no local output (Prefect's rich console costs more than ECS)
                root.removeHandler(handler)
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            with quiet_stderr():
                state = many(tasks, return_state=True)
            measured = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            logs.reset()
            for handler in consoles:
                if handler not in root.handlers:
                    root.addHandler(handler)
        settle(str(state.state_details.flow_run_id), tasks, pause)
        return measured

    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        with quiet_stderr():
            warm = many(20, return_state=True)  # warm up: imports, the server's caches
        settle(str(warm.state_details.flow_run_id), 20, pause)
        for number in range(rounds):
            for side in ((False, True) if number % 2 == 0 else (True, False)):
                times[side].append(timed(side, Path(folder)))
    return {("on" if side else "off"): (median([w for w, _ in got]), median([c for _, c in got]))
            for side, got in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--search-url", help="an OpenSearch node (default: the test bed's, if any)")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between flow runs")
    parser.add_argument("--testbed-prefect", action="store_true",
                        help="run the flows against the test bed's Prefect server")
    args = parser.parse_args()

    logs.configure("text", environ={})  # redaction as records are made, as in a HEROES process
    ecs, plain = formatter_rates(args.records, args.rounds)
    to_file = file_rate(args.records, args.rounds)
    url = search_url(args.search_url)
    to_search = search_rate(url, args.records, args.rounds) if url else None
    logs.reset()
    with prefect_server(args.testbed_prefect):
        flows = flow_overhead(args.tasks, args.rounds, args.pause)
    (off_wall, off_cpu), (on_wall, on_cpu) = flows["off"], flows["on"]
    overhead = on_wall / off_wall - 1

    rows: list[tuple[str, Any]] = [
        ("ECS formatter (records/s)", f"{ecs:,.0f}"),
        ("  baseline: stdlib Formatter (records/s)", f"{plain:,.0f}"),
        ("sink: NDJSON file (records/s)", f"{to_file:,.0f}"),
        (f"sink: OpenSearch {url or '(none running)'} (records/s)",
         f"{to_search:,.0f}" if to_search is not None else "-"),
        (f"{args.tasks}-task flow, no local logging: wall / CPU (s)", f"{off_wall:.2f} / {off_cpu:.2f}"),
        (f"{args.tasks}-task flow, ECS into a file sink: wall / CPU (s)", f"{on_wall:.2f} / {on_cpu:.2f}"),
        ("logging overhead, wall time (target < 0.05)", f"{overhead:+.3f}"),
        ("  the same, CPU time of the flow's process", f"{on_cpu / off_cpu - 1:+.3f}"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:>14}")
    print(json.dumps({"ecs_records_per_s": round(ecs), "sink_file_records_per_s": round(to_file),
                      "sink_search_records_per_s": round(to_search) if to_search is not None else None,
                      "logging_overhead": round(overhead, 4)}))


if __name__ == "__main__":
    main()
