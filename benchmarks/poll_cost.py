"""Scheduler calls and seconds per poll round with 100, 1,000 and 5,000 tracked jobs.

The jobs are real, held Slurm jobs submitted over the shared SSH connection; each
round is a JobTracker.poll(), exactly what the flows do. Baseline in the same
run: polling each job with its own `squeue --jobs=ID` call (one call per job),
measured on the 100-job set. Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

from _testbed import centre, median, open_centre

from heroes_core.jobs import JobTracker, job_key
from heroes_core.schedulers import JobSubmission, SlurmScheduler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    site = open_centre(max_channels=8)
    key = job_key(f"poll-bench-{time.time()}")
    submission = JobSubmission(key=key, job_dir=centre()["work_root"], hold=True,
                               script="#!/bin/bash\ntrue\n")
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: site.scheduler.submit(submission), range(max(args.sizes))))
    rows = []
    try:
        for size in args.sizes:
            tracker = JobTracker(site)
            for job_id in ids[:size]:
                tracker.track(job_id)
            calls, seconds = [], []
            for _ in range(args.rounds):
                tracker.jobs = dict.fromkeys(tracker.jobs)  # every job live again each round
                before = site.transport.commands_sent
                started = time.perf_counter()
                statuses = tracker.poll()
                seconds.append(time.perf_counter() - started)
                calls.append(site.transport.commands_sent - before)
                assert len(statuses) == size
            rows.append((size, max(calls), median(seconds)))
        raw = site.transport.check(site.scheduler.status_argv()).stdout  # type: ignore[attr-defined]
        started = time.perf_counter()
        parsed = SlurmScheduler.parse_status(site.scheduler, raw)  # type: ignore[arg-type]
        parse_s = time.perf_counter() - started
        assert len([i for i in parsed if i in set(ids)]) == len(ids)
        started = time.perf_counter()
        for job_id in ids[:100]:
            site.transport.check(["squeue", "--noheader", f"--jobs={job_id}", "--format=%i|%T"])
        per_job_round = time.perf_counter() - started
    finally:
        site.transport.check(["scancel", "--me", f"--name={key}"])
    print(f"{'tracked jobs':>12}{'calls/round':>13}{'s/round':>10}")
    for size, calls_max, secs in rows:
        print(f"{size:>12}{calls_max:>13}{secs:>10.3f}")
    print(f"baseline, one squeue per job: 100 jobs -> 100 calls, {per_job_round:.3f} s/round")
    print(f"parse of squeue output for {len(ids)} jobs: {parse_s:.4f} s")
    print(json.dumps({"scheduler_calls_per_round": max(r[1] for r in rows),
                      "parse_s_5000": round(parse_s, 4),
                      "seconds_per_round": {str(r[0]): round(r[2], 3) for r in rows},
                      "baseline_per_job_calls_s_100": round(per_job_round, 3)}))


if __name__ == "__main__":
    main()
