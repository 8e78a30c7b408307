"""Scheduler calls per site per interval for the site monitor with 1,000 tracked jobs, against
polling each job on its own (the baseline, on 100 jobs), and how late the monitor sees an end.

Real held Slurm jobs on the test bed's first centre, over the shared SSH connection; the
monitor's table in a throw-away SQLite file. Each monitor round is ``poll_site`` (what the
``monitor-sites`` flow does per centre, without Prefect's rate limit and events). Baseline: one
``JobTracker`` per job, one query each (what a flow run per job polling on its own costs the
login node per interval). Latency: ``--released`` of the jobs are released (they run ``true``);
the monitor polls every ``--interval`` seconds, and each end is seen ``occurred - end_time``
after Slurm's own end time (whole seconds).

Memory: the monitor's figure is this process's resident memory with 1,000 jobs tracked, after
importing the HEROES flows (as the ``monitor-sites`` flow run has them). The baseline is a flow
run per job waiting in its own process: ``--baseline-processes`` real such processes are started
(each imports the flows, opens its own SSH connection and polls one held job, as ``run_job``
waiting in process does), their resident memory is read from ``/proc``, and the mean is scaled
to ``--baseline-jobs`` processes (100 processes are not started on this 2-core machine).

Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _testbed import centre, open_centre

from heroes_core.jobs import JobTracker, job_key
from heroes_core.monitor import TrackedJobs, poll_site
from heroes_core.schedulers import JobSubmission
from heroes_core.sites import Site
from heroes_core.store import Database


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


WAITER = """
import sys, time
sys.path.insert(0, {benchmarks!r})
import heroes.flows  # noqa: F401  (a flow-run process has them loaded)
from datetime import UTC, datetime
from _testbed import open_centre
from heroes_core.jobs import JobTracker
tracker = JobTracker(open_centre())
tracker.track(sys.argv[1], datetime.now(UTC))
tracker.poll()
print("ready", flush=True)
while True:
    time.sleep({interval})
    tracker.poll()
"""


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def waiting_process_rss(job_ids: list[str], interval: float) -> list[float]:
    """Resident MB of one flow-run-like process per job, each polling its job on its own."""
    code = WAITER.format(benchmarks=str(Path(__file__).resolve().parent), interval=interval)
    procs = [subprocess.Popen([sys.executable, "-c", code, job_id], stdout=subprocess.PIPE, text=True)
             for job_id in job_ids]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(interval * 2)  # a few rounds of polling, as a waiting run does
        return [rss_of(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def submit(site: Site, count: int, key: str) -> list[str]:
    submission = JobSubmission(key=key, job_dir=centre()["work_root"], hold=True, partition="debug",
                               script="#!/bin/bash\ntrue\n")
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: site.scheduler.submit(submission), range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--baseline-jobs", type=int, default=100)
    parser.add_argument("--baseline-processes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--released", type=int, default=20)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--latency-timeout", type=float, default=180.0)
    args = parser.parse_args()
    site = open_centre(max_channels=8)
    key = job_key(f"concurrency-bench-{time.time()}")
    submitted = datetime.now(UTC) - timedelta(seconds=5)
    ids = submit(site, args.jobs, key)
    database = Database(f"sqlite:///{tempfile.mkdtemp()}/monitor.db")
    try:
        tracked = TrackedJobs(database)
        for n, job_id in enumerate(ids):
            tracked.track(f"{key}-{n}", site.name, job_id, None, "bench", submitted_at=submitted)
        import heroes.flows  # noqa: F401  (the monitor runs in a flow run, with them loaded)

        calls: list[int] = []
        for _ in range(args.rounds):
            before = site.transport.commands_sent
            poll_site(site, tracked)
            calls.append(site.transport.commands_sent - before)
        rss_1000 = rss_mb()

        before = site.transport.commands_sent
        for job_id in ids[:args.baseline_jobs]:
            tracker = JobTracker(site)
            tracker.track(job_id, submitted)
            tracker.poll()
        baseline_calls = site.transport.commands_sent - before
        per_process = waiting_process_rss(ids[-args.baseline_processes:], args.interval)
        rss_100 = statistics.mean(per_process) * args.baseline_jobs

        released = ids[:args.released]
        latencies: list[float] = []
        if released:
            site.transport.check(["scontrol", "release", *released])
            waiting = set(released)
            deadline = time.monotonic() + args.latency_timeout
            while waiting and time.monotonic() < deadline:
                started = time.monotonic()
                live = tracked.live(site.name)
                statuses = site.scheduler.query([j.job_id for j in live],
                                                since=min(j.submitted_at for j in live))
                for change in tracked.record(site.name, statuses):
                    status = statuses[change.job_id]
                    if change.is_final and status.end_time is not None:
                        latencies.append((change.occurred - status.end_time).total_seconds())
                        waiting.discard(change.job_id)
                time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    finally:
        site.transport.check(["scancel", "--me", f"--name={key}"])
        database.dispose()

    print(f"{'what':<44}{'value':>10}")
    print(f"{'monitor: calls per round, ' + str(args.jobs) + ' jobs':<44}{max(calls):>10}")
    print(f"{'baseline: calls per interval, ' + str(args.baseline_jobs) + ' jobs':<44}{baseline_calls:>10}")
    print(f"{'monitor RSS with ' + str(args.jobs) + ' jobs (MB)':<44}{rss_1000:>10.1f}")
    print(f"{'one waiting flow-run process (MB, mean of ' + str(len(per_process)) + ')':<44}"
          f"{statistics.mean(per_process):>10.1f}")
    print(f"{'baseline RSS, ' + str(args.baseline_jobs) + ' waiting processes (MB)':<44}{rss_100:>10.1f}")
    latency = p99(latencies)
    print(f"{'p99 end seen after (s), ' + str(len(latencies)) + ' jobs':<44}"
          f"{'n/a' if latency is None else f'{latency:.1f}':>10}")
    print(json.dumps({"calls_per_site_per_interval": max(calls),
                      "baseline_calls_per_interval_100": baseline_calls,
                      "rss_mb_1000": round(rss_1000, 1), "rss_mb_100_baseline": round(rss_100, 1),
                      "state_latency_p99_s": None if latency is None else round(latency, 2),
                      "interval_s": args.interval}))


if __name__ == "__main__":
    main()
