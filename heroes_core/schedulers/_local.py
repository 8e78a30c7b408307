"""Background processes as a batch system, for laptops and sites without a scheduler.

Each job gets a registry directory named by its key, holding the id of the
session it runs in and, once it ends, its exit code; the key *is* the job id,
which makes ``find`` trivial and resubmission impossible. A time limit is
enforced with ``timeout``; cancel stops the whole session, TERM then KILL.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime

from heroes_core.errors import SchedulerError, SpecError
from heroes_core.models import JobState, JobStatus
from heroes_core.schedulers._base import JobSubmission, Scheduler, SiteLoad, require_key
from heroes_core.transport import Transport

_LAUNCH = r"""
set -eu
reg="$1"; script="$2"; limit="$3"; out="$4"; dir="$5"
umask 077
mkdir "$reg"
cat > "$script"
cd "$dir"
run='echo $$ > "$4/pid.tmp"; mv "$4/pid.tmp" "$4/pid"
timeout --signal=TERM --kill-after=5 "$1" bash "$2" >>"$3" 2>&1
echo $? > "$4/exitcode.tmp"; mv "$4/exitcode.tmp" "$4/exitcode"'
setsid sh -c "$run" sh "$limit" "$script" "$out" "$reg" </dev/null >/dev/null 2>&1 &
i=0
while [ ! -s "$reg/pid" ]; do
  i=$((i + 1))
  if [ "$i" -gt 600 ]; then echo "the job did not start within 30 s" >&2; exit 1; fi
  sleep 0.05
done
"""

# Sessions (``ps`` SID column) that still hold a process that is not a zombie.
_LIVE_SESSIONS = r"""ps -A -o sid=,stat= | awk '$2 !~ /^Z/ {print " " $1 " "}' | sort -u"""

_QUERY = r"""
root="$1"; shift
live=""; looked=""
for key in "$@"; do
  reg="$root/$key"
  if [ ! -d "$reg" ]; then echo "$key|missing|"; continue; fi
  if [ -f "$reg/cancelled" ]; then echo "$key|cancelled|"; continue; fi
  if [ -f "$reg/exitcode" ]; then echo "$key|done|$(cat "$reg/exitcode")"; continue; fi
  if [ -z "$looked" ]; then live=$(LIVE); looked=1; fi
  sid=$(cat "$reg/pid" 2>/dev/null || true)
  case "$sid" in ''|*[!0-9]*) echo "$key|lost|"; continue ;; esac
  case "$live" in *" $sid "*) echo "$key|running|" ;; *) echo "$key|lost|" ;; esac
done
""".replace("LIVE", _LIVE_SESSIONS)

# Each job is a session of its own (``setsid``); ``timeout`` moves the job into a process
# group of its own, so the session, not a group, is what holds every process of the job.
# TERM the session, wait up to the grace, KILL what is left, and mark the job cancelled
# only once nothing of it runs any more.
_CANCEL = r"""
set -u
root="$1"; grace="$2"; shift 2
live() { LIVE; }
keys=(); sids=()
for key in "$@"; do
  reg="$root/$key"
  [ -f "$reg/exitcode" ] && continue
  sid=$(cat "$reg/pid" 2>/dev/null || true)
  if [[ ! "$sid" =~ ^[0-9]+$ ]] || [ "$sid" -le 1 ]; then
    [ -d "$reg" ] && touch "$reg/cancelled"
    continue
  fi
  keys+=("$key"); sids+=("$sid")
  pkill -TERM -s "$sid" || true
done
((${#keys[@]})) || exit 0
running() {
  local now; now=$(live); left=()
  for i in "${!keys[@]}"; do [[ "$now" == *" ${sids[$i]} "* ]] && left+=("$i"); done
  ((${#left[@]}))
}
end=$((SECONDS + grace))
while running && ((SECONDS < end)); do sleep 0.1; done
if running; then
  for i in "${left[@]}"; do pkill -KILL -s "${sids[$i]}" || true; done
  end=$((SECONDS + 10))
  while running && ((SECONDS < end)); do sleep 0.1; done
fi
running || true
status=0
for i in "${!keys[@]}"; do
  if [[ " ${left[*]} " == *" $i "* ]]; then
    echo "${keys[$i]}: processes of session ${sids[$i]} survived SIGKILL" >&2; status=1
  else
    touch "$root/${keys[$i]}/cancelled"
  fi
done
exit "$status"
""".replace("LIVE", _LIVE_SESSIONS)


class LocalScheduler(Scheduler):
    """Runs job scripts as detached process groups on the transport's host."""

    name = "local"

    def __init__(self, transport: Transport, registry_dir: str, *,
                 cancel_grace: int = 10) -> None:
        super().__init__(transport)
        self.registry_dir = registry_dir.rstrip("/")
        self.cancel_grace = cancel_grace

    def submit(self, submission: JobSubmission) -> str:
        if submission.gpus:  # Site.check_limits refuses earlier; this is the last line
            raise SpecError(f"job {submission.key} asks for {submission.gpus} GPU(s) per node; the "
                            "local scheduler runs plain processes and cannot give GPUs",
                            site=self.site, fix="run GPU jobs on a centre with a batch system "
                                                "(e.g. Slurm), or ask for gpus=0")
        reg = f"{self.registry_dir}/{submission.key}"
        self.transport.check(["mkdir", "-p", self.registry_dir])
        result = self.transport.run(
            ["sh", "-c", _LAUNCH, "sh", reg, f"{reg}/job.sh",
             f"{submission.time_limit_minutes * 60}",
             self.output_path(submission.job_dir, submission.key),
             submission.job_dir],
            stdin=submission.script.encode(), idempotent=False,
        )
        if not result.ok:
            raise SchedulerError(f"could not start the job: {result.describe()}", site=self.site)
        return submission.key

    def find(self, key: str) -> list[str]:
        require_key(key, self.site)
        result = self.transport.run(["test", "-d", f"{self.registry_dir}/{key}"])
        return [key] if result.ok else []

    def query(self, job_ids: Collection[str], *, since: datetime | None = None
              ) -> dict[str, JobStatus]:
        if not job_ids:
            return {}
        for key in job_ids:  # a job id here is a key, and a path below the registry
            require_key(key, self.site)
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
        """TERM every process of each job, KILL what is left after the grace; returns once
        they are gone (only then does the job read CANCELLED)."""
        if not job_ids:
            return
        for key in job_ids:
            require_key(key, self.site)
        result = self.transport.run(["bash", "-c", _CANCEL, "bash", self.registry_dir,
                                     str(self.cancel_grace), *job_ids],
                                    timeout=self.cancel_grace + 60)
        if not result.ok:
            raise SchedulerError(f"could not stop every process: {result.describe()}",
                                 site=self.site, fix="check the processes left on the host")

    def partitions(self) -> list[str]:
        return ["local"]

    def output_path(self, job_dir: str, job_id: str) -> str:
        return f"{job_dir}/job.out"

    def load(self) -> SiteLoad:
        cpus = os.cpu_count() or 1
        return SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=cpus, total_cpus=cpus)
