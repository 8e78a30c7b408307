"""Background processes as a batch system, for laptops and sites without a scheduler.

Each job gets a registry directory named by its key, holding its pid and, once
it ends, its exit code; the key *is* the job id, which makes ``find`` trivial
and resubmission impossible. A time limit is enforced with ``timeout``.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime

from heroes_core.errors import SchedulerError
from heroes_core.models import JobState, JobStatus
from heroes_core.schedulers._base import JobSubmission, Scheduler, SiteLoad
from heroes_core.transport import Transport

_LAUNCH = r"""
set -eu
reg="$1"; script="$2"; limit="$3"; out="$4"; dir="$5"
umask 077
mkdir "$reg"
cat > "$script"
cd "$dir"
run='timeout --signal=TERM --kill-after=5 "$1" bash "$2" >>"$3" 2>&1
echo $? > "$4/exitcode.tmp"; mv "$4/exitcode.tmp" "$4/exitcode"'
setsid sh -c "$run" sh "$limit" "$script" "$out" "$reg" </dev/null >/dev/null 2>&1 &
echo $! > "$reg/pid"
"""

_QUERY = r"""
root="$1"; shift
for key in "$@"; do
  reg="$root/$key"
  if [ ! -d "$reg" ]; then echo "$key|missing|"; continue; fi
  if [ -f "$reg/exitcode" ]; then echo "$key|done|$(cat "$reg/exitcode")"; continue; fi
  if [ -f "$reg/cancelled" ]; then echo "$key|cancelled|"; continue; fi
  pid=$(cat "$reg/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$key|running|"; else echo "$key|lost|"; fi
done
"""

_CANCEL = r"""
root="$1"; shift
for key in "$@"; do
  reg="$root/$key"
  [ -f "$reg/pid" ] || continue
  touch "$reg/cancelled"
  kill -TERM -- "-$(cat "$reg/pid")" 2>/dev/null || true
done
"""


class LocalScheduler(Scheduler):
    """Runs job scripts as detached process groups on the transport's host."""

    name = "local"

    def __init__(self, transport: Transport, registry_dir: str) -> None:
        super().__init__(transport)
        self.registry_dir = registry_dir.rstrip("/")

    def submit(self, submission: JobSubmission) -> str:
        reg = f"{self.registry_dir}/{submission.key}"
        self.transport.check(["mkdir", "-p", self.registry_dir])
        result = self.transport.run(
            ["sh", "-c", _LAUNCH, "sh", reg, f"{reg}/job.sh",
             f"{submission.time_limit_minutes * 60}", f"{submission.job_dir}/job.out",
             submission.job_dir],
            stdin=submission.script.encode(), idempotent=False,
        )
        if not result.ok:
            raise SchedulerError(f"could not start the job: {result.describe()}", site=self.site)
        return submission.key

    def find(self, key: str) -> list[str]:
        result = self.transport.run(["test", "-d", f"{self.registry_dir}/{key}"])
        return [key] if result.ok else []

    def query(self, job_ids: Collection[str], *, since: datetime | None = None
              ) -> dict[str, JobStatus]:
        if not job_ids:
            return {}
        result = self.transport.check(["sh", "-c", _QUERY, "sh", self.registry_dir, *job_ids])
        statuses: dict[str, JobStatus] = {}
        for line in result.stdout.splitlines():
            key, native, code = [*line.split("|"), "", ""][:3]
            statuses[key] = self._status(key, native, int(code) if code.isdigit() else None)
        return statuses

    @staticmethod
    def _status(key: str, native: str, code: int | None) -> JobStatus:
        if native == "done" and code == 0:
            state, reason = JobState.COMPLETED, "completed with exit code 0"
        elif native == "done" and code == 124:
            state, reason = JobState.FAILED, "TIMEOUT: reached its time limit"
        elif native == "done":
            state, reason = JobState.FAILED, f"exited with code {code}"
        elif native == "cancelled":
            state, reason = JobState.CANCELLED, "cancelled"
        elif native == "running":
            state, reason = JobState.RUNNING, "running"
        elif native == "lost":
            state, reason = JobState.FAILED, "process vanished without an exit code"
        else:
            state, reason = JobState.UNKNOWN, "no such job"
        return JobStatus(job_id=key, state=state, native_state=native, reason=reason,
                         exit_code=code)

    def cancel(self, job_ids: Collection[str]) -> None:
        if job_ids:
            self.transport.check(["sh", "-c", _CANCEL, "sh", self.registry_dir, *job_ids])

    def partitions(self) -> list[str]:
        return ["local"]

    def load(self) -> SiteLoad:
        cpus = os.cpu_count() or 1
        return SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=cpus, total_cpus=cpus)
