import pytest

from heroes_core.models import JobState
from heroes_core.schedulers import SLURM_STATES, map_slurm_state

# Every job state listed in Slurm's squeue(1) "JOB STATE CODES".
SLURM_MAN_PAGE_STATES = [
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "CONFIGURING", "COMPLETING", "DEADLINE", "FAILED",
    "NODE_FAIL", "OUT_OF_MEMORY", "PENDING", "PREEMPTED", "RUNNING", "RESV_DEL_HOLD",
    "REQUEUE_FED", "REQUEUE_HOLD", "REQUEUED", "RESIZING", "REVOKED", "SIGNALING",
    "SPECIAL_EXIT", "STAGE_OUT", "STOPPED", "SUSPENDED", "TIMEOUT",
]


@pytest.mark.parametrize("native", SLURM_MAN_PAGE_STATES)
def test_every_slurm_state_is_mapped(native: str) -> None:
    assert native in SLURM_STATES
    state, reason = map_slurm_state(native)
    assert state is not JobState.UNKNOWN and reason


@pytest.mark.parametrize(("native", "expected", "words"), [
    ("TIMEOUT", JobState.FAILED, "TIMEOUT"),
    ("OUT_OF_MEMORY", JobState.FAILED, "OUT_OF_MEMORY"),
    ("NODE_FAIL", JobState.FAILED, "NODE_FAIL"),
    ("PREEMPTED", JobState.FAILED, "PREEMPTED"),
    ("CANCELLED by 1001", JobState.CANCELLED, "CANCELLED by 1001"),
    ("COMPLETED", JobState.COMPLETED, "exit code 0"),
])
def test_final_states_keep_the_slurm_reason(native: str, expected: JobState, words: str) -> None:
    state, reason = map_slurm_state(native)
    assert state is expected
    assert words in reason


def test_user_hold_is_held_not_pending() -> None:
    assert map_slurm_state("PENDING", "JobHeldUser")[0] is JobState.HELD
    state, reason = map_slurm_state("PENDING", "Resources")
    assert state is JobState.PENDING and "Resources" in reason


def test_an_unknown_state_is_unknown_not_success() -> None:
    state, reason = map_slurm_state("WEIRD_NEW_STATE")
    assert state is JobState.UNKNOWN and "WEIRD_NEW_STATE" in reason
