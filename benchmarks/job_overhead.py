"""Wall time of a trivial job through the whole run_job flow, minus the job's own run time.

Runs the flow in-process against the test bed's Prefect server (poll interval 1 s)
several times and reports the median overhead, together with the same job
submitted with a bare `sbatch --wait` over the same SSH connection (the floor
that Slurm itself imposes). Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _testbed import centre, median, open_centre, register_blocks, testbed

os.environ.setdefault("PREFECT_API_URL", testbed()["prefect"]["api_url"])

from heroes.blocks.defaults import DEFAULT_ARCHIVE
from heroes.flows import run_job
from heroes_core.models import ImageRef, JobSpec


def job_runtime(status) -> float:  # type: ignore[no-untyped-def]
    if status.start_time and status.end_time:
        return (status.end_time - status.start_time).total_seconds()
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    register_blocks()
    info = centre()
    spec = JobSpec(name="trivial", image=ImageRef(**info["image"]), command=["true"])
    overheads, walls = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        state = run_job(spec=spec, centre=info["name"], archive=DEFAULT_ARCHIVE, organisation="bench",
                        user="overhead", poll_interval=1.0, return_state=True)
        wall = time.perf_counter() - started
        status = state.result()
        walls.append(wall)
        overheads.append(wall - job_runtime(status))
    site = open_centre()
    floor = []
    for _ in range(args.runs):
        started = time.perf_counter()
        site.transport.check(["sbatch", "--wait", "--parsable", "--output=/dev/null",
                              f"--chdir={info['work_root']}", "--wrap=true"], timeout=120)
        floor.append(time.perf_counter() - started)
    print(f"run_job wall time (median of {args.runs}): {median(walls):.2f} s")
    print(f"run_job overhead beyond the job's run time: {median(overheads):.2f} s (target < 5 s)")
    print(f"bare `sbatch --wait` of the same trivial job: {median(floor):.2f} s")
    print(json.dumps({"overhead_s": round(median(overheads), 2),
                      "sbatch_wait_s": round(median(floor), 2)}))


if __name__ == "__main__":
    main()
