"""Per-command latency of the two SSH backends, in the same run, on the test bed's first centre.

paramiko: one connection in this process, a channel per command. openssh: one `ssh` process per
command, multiplexed over the shared master (the first command's master opening is left out of
the timings, as paramiko's connection is). Each backend runs a warm-up, then ``--commands``
sequential `true` commands, then the same number from ``--threads`` threads. Prints a table,
then a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _testbed import median, open_centre

from heroes_core.transport import CONTROL_DIR_ENV, Transport


def latencies(transport: Transport, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        transport.check(["true"])
        seconds.append(time.perf_counter() - started)
    return seconds


def throughput(transport: Transport, count: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _: transport.check(["true"]), range(count)))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    control = Path(tempfile.mkdtemp(prefix="hs-bench-", dir="/tmp"))
    os.environ[CONTROL_DIR_ENV] = str(control / "ssh")
    rows = {}
    try:
        for backend in ("paramiko", "openssh"):
            site = open_centre(backend=backend, max_channels=args.threads)
            latencies(site.transport, 5)  # connect / open the master, warm up
            seconds = latencies(site.transport, args.commands)
            rows[backend] = {"median_ms": median(seconds) * 1000,
                             "p95_ms": sorted(seconds)[int(0.95 * len(seconds))] * 1000,
                             "parallel_per_s": throughput(site.transport, args.commands, args.threads)}
            if backend == "openssh":
                site.transport.disconnect()  # type: ignore[attr-defined]
            site.transport.close()
    finally:
        shutil.rmtree(control, ignore_errors=True)
    print(f"{'backend':>10}{'median ms':>11}{'p95 ms':>9}{f'cmds/s ({args.threads} threads)':>24}")
    for backend, row in rows.items():
        print(f"{backend:>10}{row['median_ms']:>11.1f}{row['p95_ms']:>9.1f}{row['parallel_per_s']:>24.0f}")
    rounded = {backend: {k: round(v, 2) for k, v in row.items()} for backend, row in rows.items()}
    print(json.dumps({"benchmark": "ssh_backends", "commands": args.commands, "threads": args.threads,
                      **rounded}))


if __name__ == "__main__":
    main()
