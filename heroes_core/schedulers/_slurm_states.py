"""Every Slurm job state, mapped to :class:`JobState` with a human reason.

Kept as an explicit table (like psij's) so that a new or unexpected state is
visible as UNKNOWN rather than silently treated as success.
"""

from __future__ import annotations

from heroes_core.models import JobState

SLURM_STATES: dict[str, tuple[JobState, str]] = {
    "PENDING": (JobState.PENDING, "waiting for resources"),
    "CONFIGURING": (JobState.PENDING, "nodes are being configured"),
    "REQUEUED": (JobState.PENDING, "requeued"),
    "REQUEUE_FED": (JobState.PENDING, "requeued by the federation"),
    "REQUEUE_HOLD": (JobState.HELD, "requeued and held"),
    "RESV_DEL_HOLD": (JobState.HELD, "held because its reservation was deleted"),
    "RUNNING": (JobState.RUNNING, "running"),
    "COMPLETING": (JobState.RUNNING, "finishing"),
    "STAGE_OUT": (JobState.RUNNING, "staging out"),
    "SIGNALING": (JobState.RUNNING, "being signalled"),
    "RESIZING": (JobState.RUNNING, "being resized"),
    "SUSPENDED": (JobState.SUSPENDED, "suspended"),
    "STOPPED": (JobState.SUSPENDED, "stopped (SIGSTOP)"),
    "COMPLETED": (JobState.COMPLETED, "completed with exit code 0"),
    "FAILED": (JobState.FAILED, "exited with a non-zero code"),
    "TIMEOUT": (JobState.FAILED, "TIMEOUT: reached its time limit"),
    "OUT_OF_MEMORY": (JobState.FAILED, "OUT_OF_MEMORY: exceeded its memory limit"),
    "NODE_FAIL": (JobState.FAILED, "NODE_FAIL: a node it ran on failed"),
    "BOOT_FAIL": (JobState.FAILED, "BOOT_FAIL: a node failed to boot"),
    "DEADLINE": (JobState.FAILED, "DEADLINE: could not finish before its deadline"),
    "PREEMPTED": (JobState.FAILED, "PREEMPTED: stopped to make room for another job"),
    "SPECIAL_EXIT": (JobState.FAILED, "SPECIAL_EXIT: held after a special exit code"),
    "REVOKED": (JobState.CANCELLED, "REVOKED: run by another cluster of the federation"),
    "CANCELLED": (JobState.CANCELLED, "cancelled"),
}


def map_slurm_state(native: str, slurm_reason: str = "") -> tuple[JobState, str]:
    """Map e.g. 'CANCELLED by 1001' or 'PENDING' (+ squeue reason) to (state, reason)."""
    word = native.split()[0].rstrip("+").upper() if native.strip() else ""
    state, reason = SLURM_STATES.get(word, (JobState.UNKNOWN, f"unknown Slurm state {native!r}"))
    if state is JobState.PENDING and slurm_reason == "JobHeldUser":
        state, reason = JobState.HELD, "held by the user"
    elif state is JobState.PENDING and slurm_reason == "JobHeldAdmin":
        state, reason = JobState.HELD, "held by an administrator"
    if native.strip() != word:
        reason = f"{reason} ({native.strip()})"
    if slurm_reason and slurm_reason not in ("None", "(null)"):
        reason = f"{reason}; Slurm reason: {slurm_reason}"
    return state, reason
