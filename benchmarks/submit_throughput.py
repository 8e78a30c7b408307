"""Submit and track N held jobs on the local Slurm over SSH, three ways, in one run.

(a) HEROES: one shared SSH connection (TCP_NODELAY), up to max_channels concurrent
    sbatch channels, then one squeue for all N jobs;
(b) the original prototype's way: a new `ssh` connection for every scheduler command;
(c) the limit: plain local `sbatch` in a sequential shell loop, no SSH.
Jobs are submitted held so that only submission and tracking are timed; all are
cancelled afterwards. Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _testbed import centre, open_centre

from heroes_core.jobs import job_key
from heroes_core.schedulers import JobSubmission

SCRIPT = "#!/bin/bash\ntrue\n"


def heroes(n: int, channels: int, key: str, job_dir: str) -> float:
    site = open_centre(max_channels=channels)
    site.transport.check(["true"])  # connect outside the timed part, as a long-lived worker is
    submission = JobSubmission(key=key, job_dir=job_dir, script=SCRIPT, hold=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=channels) as pool:
        ids = list(pool.map(lambda _: site.scheduler.submit(submission), range(n)))
    statuses = site.scheduler.query(ids)
    elapsed = time.perf_counter() - started
    assert len(statuses) == n and all(not s.state.is_final for s in statuses.values())
    site.transport.check(["scancel", "--me", f"--name={key}"])
    site.transport.close()
    return n / elapsed


def ssh_argv(info: dict[str, object]) -> list[str]:
    return ["ssh", "-p", str(info["port"]), "-i", str(info["private_key_path"]),
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={info['known_hosts_path']}",
            "-o", "StrictHostKeyChecking=yes", f"{info['user']}@{info['host']}"]


def per_command_ssh(n: int, key: str, job_dir: str) -> float:
    info = centre()
    base = ssh_argv(info)
    started = time.perf_counter()
    ids = []
    for _ in range(n):
        out = subprocess.run([*base, f"sbatch --parsable --hold --job-name={key} --chdir={job_dir} "
                              f"--output=/dev/null"], input=SCRIPT, text=True,
                             capture_output=True, check=True).stdout
        ids.append(out.strip().split(";")[0])
    subprocess.run([*base, f"squeue --me --noheader --format=%i --jobs={','.join(ids)}"],
                   capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    subprocess.run([*base, f"scancel --me --name={key}"], check=True)
    return n / elapsed


def local_sbatch(n: int, key: str, job_dir: str) -> float:
    user = centre()["user"]
    loop = (f'for i in $(seq {n}); do sbatch --parsable --hold --job-name={key} --chdir={job_dir} '
            f'--output=/dev/null --wrap=true >/dev/null; done')
    started = time.perf_counter()
    subprocess.run(["runuser", "-u", user, "--", "bash", "-c", loop], check=True)
    elapsed = time.perf_counter() - started
    subprocess.run(["runuser", "-u", user, "--", "scancel", "--me", f"--name={key}"], check=True)
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--jobs", type=int, default=200)
    parser.add_argument("--baseline-jobs", type=int, default=50,
                        help="jobs for the slow per-command-SSH baseline (its rate is per job)")
    parser.add_argument("--channels", type=int, default=8)
    args = parser.parse_args()
    job_dir = str(Path(centre()["work_root"]))
    key = job_key(f"bench-{time.time()}")
    a = heroes(args.jobs, args.channels, key, job_dir)
    b = per_command_ssh(args.baseline_jobs, key, job_dir)
    c = local_sbatch(args.jobs, key, job_dir)
    print(f"{'method':<44}{'jobs':>6}{'jobs/s':>10}")
    label = f"(a) HEROES, shared SSH, {args.channels} channels"
    print(f"{label:<44}{args.jobs:>6}{a:>10.1f}")
    print(f"{'(b) new SSH connection per command':<44}{args.baseline_jobs:>6}{b:>10.1f}")
    print(f"{'(c) local sbatch loop, no SSH':<44}{args.jobs:>6}{c:>10.1f}")
    print(f"(a)/(b) = {a / b:.1f}x (target >= 30x); (a)/(c) = {a / c:.0%} (target >= 90%)")
    print(json.dumps({"heroes_jobs_per_s": round(a, 1), "per_command_ssh_jobs_per_s": round(b, 2),
                      "local_sbatch_jobs_per_s": round(c, 1)}))


if __name__ == "__main__":
    main()
