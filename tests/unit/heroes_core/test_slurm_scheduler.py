"""SlurmScheduler's command lines and parsing, against a scripted transport."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from heroes_core.errors import SchedulerError, SpecError
from heroes_core.models import JobState
from heroes_core.schedulers import JobSubmission, SlurmScheduler
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

if TYPE_CHECKING:
    from _typeshed import TraceFunction

KEY = "heroes-0123456789abcdef0123"


def submission(**overrides: object) -> JobSubmission:
    values: dict[str, object] = {"key": KEY, "job_dir": "/work/org/user/" + KEY,
                                 "script": "#!/bin/bash\ntrue\n", "partition": "debug",
                                 "cores": 2, "memory_mb": 512, "time_limit_minutes": 5}
    values.update(overrides)
    return JobSubmission.model_validate(values)


def test_submit_sends_the_script_on_stdin_with_key_as_name_and_comment() -> None:
    transport = ScriptedTransport({"sbatch": "4242\n"})
    job_id = SlurmScheduler(transport).submit(submission())
    assert job_id == "4242"
    argv = transport.calls[0]
    assert argv[:2] == ["sbatch", "--parsable"]
    assert f"--job-name={KEY}" in argv and f"--comment=heroes:{KEY}" in argv
    assert "--partition=debug" in argv and "--cpus-per-task=2" in argv and "--mem=512M" in argv
    assert transport.stdins[0] == b"#!/bin/bash\ntrue\n"


def test_a_job_with_an_energy_policy_asks_ears_slurm_plugin_for_it_and_others_do_not() -> None:
    with_policy = SlurmScheduler(ScriptedTransport({})).submit_argv(submission(energy_policy="min_energy"))
    assert with_policy[-2:] == ["--ear=on", "--ear-policy=min_energy"]
    assert not any(arg.startswith("--ear") for arg in SlurmScheduler(ScriptedTransport({})).submit_argv(submission()))
    with pytest.raises(ValidationError):
        submission(energy_policy="x --wrap=id")


def test_a_gpu_job_asks_slurm_for_gres_gpus_per_node_with_its_type_if_any() -> None:
    argv = partial(SlurmScheduler(ScriptedTransport({})).submit_argv)
    assert "--gres=gpu:2" in argv(submission(gpus=2, nodes=3))
    assert "--gres=gpu:a100:1" in argv(submission(gpus=1, gpu_type="a100"))
    assert not any(arg.startswith(("--gres", "--gpus")) for arg in argv(submission()))


def test_submit_accepts_the_cluster_suffix() -> None:
    assert SlurmScheduler(ScriptedTransport({"sbatch": "77;cluster\n"})).submit(submission()) == "77"


def test_a_refused_submission_raises_with_slurms_message() -> None:
    def refuse(argv: list[str], stdin: bytes | None):  # type: ignore[no-untyped-def]
        return ok(argv, exit_code=1, stderr="sbatch: error: invalid partition specified: nope")
    with pytest.raises(SchedulerError, match="invalid partition"):
        SlurmScheduler(ScriptedTransport({"sbatch": refuse})).submit(submission())


def test_key_must_be_scheduler_safe() -> None:
    with pytest.raises(ValueError):
        submission(key="heroes-$(reboot)")


# Times as Slurm prints them under SLURM_TIME_FORMAT=%s: seconds since the epoch.
T0 = 1795989600  # 2026-11-29T22:00:00Z
UTC0 = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
SQUEUE = "\n".join([
    f"10|RUNNING|None|{T0}|{T0 + 1}",
    f"11|PENDING|Resources|{T0}|N/A",
    f"12|COMPLETED|None|{T0}|{T0 + 1}",
    f"99|RUNNING|None|{T0}|{T0 + 1}",
])
SACCT = "\n".join([
    f"12|COMPLETED|0:0|None|{T0}|{T0 + 1}|{T0 + 5}",
    f"13|FAILED|3:0|None|{T0}|{T0 + 1}|{T0 + 2}",
    f"14|TIMEOUT|0:15|None|{T0}|{T0 + 1}|{T0 + 62}",
    "15|PENDING|0:0|None|{T0}|Unknown|Unknown".replace("{T0}", str(T0)),
])
TIME_ENV = ["env", "SLURM_TIME_FORMAT=%s"]


def slurm(answers: dict[str, str]) -> ScriptedTransport:
    """A centre whose squeue and sacct answer when called as ``env SLURM_TIME_FORMAT=%s ...``."""
    def under_env(argv: list[str], stdin: bytes | None):  # type: ignore[no-untyped-def]
        return ok(argv, answers.get(argv[2], "") if argv[:2] == TIME_ENV else "")
    return ScriptedTransport({"env": under_env, **answers})


def programs(transport: ScriptedTransport) -> list[str]:
    return [call[2] if call[:2] == TIME_ENV else call[0] for call in transport.calls]


def test_one_squeue_and_one_sacct_cover_every_job_per_round() -> None:
    transport = slurm({"squeue": SQUEUE, "sacct": SACCT})
    statuses = SlurmScheduler(transport).query(["10", "11", "12", "13", "14", "15", "16"],
                                               since=UTC0)
    assert programs(transport) == ["squeue", "sacct"]
    assert statuses["10"].state is JobState.RUNNING
    assert statuses["11"].state is JobState.PENDING and "Resources" in statuses["11"].reason
    assert statuses["12"].state is JobState.COMPLETED and statuses["12"].exit_code == 0
    assert statuses["13"].state is JobState.FAILED and statuses["13"].exit_code == 3
    assert statuses["14"].state is JobState.FAILED and "TIMEOUT" in statuses["14"].reason
    assert statuses["15"].state is JobState.PENDING
    assert statuses["16"].state is JobState.UNKNOWN
    assert "99" not in statuses
    assert "--jobs=12,13,14,15,16" in transport.calls[1]


def test_queue_and_accounting_times_are_asked_as_epoch_seconds_and_read_as_aware_utc() -> None:
    transport = slurm({"squeue": SQUEUE, "sacct": SACCT})
    statuses = SlurmScheduler(transport).query(["10", "11", "14", "15"], since=UTC0)
    assert [call[:3] for call in transport.calls] == [[*TIME_ENV, "squeue"], [*TIME_ENV, "sacct"]]
    running, pending, timed_out = statuses["10"], statuses["11"], statuses["14"]
    assert (running.submit_time, running.start_time) == (UTC0, UTC0 + timedelta(seconds=1))
    assert pending.start_time is None
    assert (timed_out.start_time, timed_out.end_time) == (UTC0 + timedelta(seconds=1),
                                                          UTC0 + timedelta(seconds=62))
    assert statuses["15"].end_time is None
    for status in (running, timed_out):
        assert status.submit_time is not None and status.submit_time.utcoffset() == timedelta(0)


def test_the_accounting_window_is_counted_back_from_the_centres_own_now() -> None:
    scheduler = SlurmScheduler(ScriptedTransport({}))
    now = UTC0 + timedelta(hours=2)
    # Any zone: the same instant gives the same window, and the window reaches back an hour
    # further than asked (clock skew between orchestrator and centre, jobs tracked late).
    kiritimati = timezone(timedelta(hours=14))
    for since in (UTC0, UTC0.astimezone(kiritimati)):
        argv = scheduler.accounting_argv(["12"], since, now=now)
        assert f"--starttime=now-{2 * 3600 + 3600}seconds" in argv
    ahead = now + timedelta(minutes=30)  # the orchestrator's clock runs ahead of the centre's
    assert "--starttime=now-1800seconds" in scheduler.accounting_argv(["12"], ahead, now=now)
    assert "--starttime=now-0seconds" in scheduler.accounting_argv(["12"], now + timedelta(hours=2),
                                                                   now=now)
    assert "--starttime=now-30days" in scheduler.accounting_argv(["12"], None, now=now)


def test_a_naive_since_is_refused_as_ambiguous() -> None:
    with pytest.raises(ValueError, match="time zone"):
        SlurmScheduler(ScriptedTransport({})).accounting_argv(["12"], datetime(2026, 11, 26))


def test_live_jobs_need_no_sacct() -> None:
    transport = slurm({"squeue": SQUEUE})
    SlurmScheduler(transport).query(["10", "11"])
    assert programs(transport) == ["squeue"]


def test_find_looks_in_queue_and_accounting_by_name() -> None:
    transport = ScriptedTransport({"squeue": "31\n", "sacct": "30\n31\n"})
    assert SlurmScheduler(transport).find(KEY) == ["30", "31"]
    assert f"--name={KEY}" in transport.calls[0] and f"--name={KEY}" in transport.calls[1]


def test_cancel_ignores_jobs_already_finished() -> None:
    def finished(argv: list[str], stdin: bytes | None):  # type: ignore[no-untyped-def]
        return ok(argv, exit_code=1, stderr="scancel: error: Job/step already completing or completed")
    transport = ScriptedTransport({"scancel": finished})
    SlurmScheduler(transport).cancel(["5", "not-an-id"])
    assert transport.calls == [["scancel", "5"]]


def test_a_missing_partition_names_the_available_ones() -> None:
    scheduler = SlurmScheduler(ScriptedTransport({"sinfo": "debug\nbatch\n"}, site="hpc1"))
    with pytest.raises(SpecError, match=r"\[hpc1\] partition 'gpu' does not exist.*batch, debug"):
        scheduler.require_partition("gpu")


def _interpreter_steps(work: Callable[[], object]) -> int:
    """Python lines executed and functions called (Python and C) while ``work`` runs: a
    deterministic measure of work, where a clock would be noisy."""
    steps = 0

    def trace(frame: FrameType, event: str, arg: Any) -> TraceFunction:
        nonlocal steps
        steps += 1
        return trace

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal steps
        if event == "c_call":
            steps += 1

    previous = sys.gettrace(), sys.getprofile()  # a debugger's or coverage's, put back after
    gc.collect()
    gc.disable()  # collections run finalizers at moments that depend on everything before
    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(previous[1])
        sys.settrace(previous[0])
        gc.enable()
    return steps


def _squeue_lines(count: int) -> str:
    return "\n".join(f"{i}|RUNNING|None|{T0 + i}|{T0 + i + 1}" for i in range(count))


def test_parsing_squeue_costs_the_same_for_each_line_whatever_the_queue_length() -> None:
    parser = SlurmScheduler(ScriptedTransport({}))
    warm = _squeue_lines(10)
    _interpreter_steps(lambda: parser.parse_status(warm))  # caches and imports, first use only
    steps = {n: _interpreter_steps(partial(parser.parse_status, _squeue_lines(n)))
             for n in (1000, 2000, 3000)}
    assert steps[3000] - steps[2000] == steps[2000] - steps[1000] > 0
    statuses = parser.parse_status(_squeue_lines(5000))
    assert list(statuses) == [str(i) for i in range(5000)]
    assert all(s.state is JobState.RUNNING and s.start_time == UTC0 + timedelta(seconds=int(i) + 1)
               for i, s in statuses.items())


def test_site_load_counts_everyones_jobs_and_cpus() -> None:
    transport = ScriptedTransport({"squeue": "PENDING\nRUNNING\nPENDING\n", "sinfo": "4/12/0/16\n"})
    load = SlurmScheduler(transport).load()
    assert (load.pending_jobs, load.running_jobs, load.idle_cpus, load.total_cpus) == (2, 1, 12, 16)
    assert not load.degraded


def test_cpus_on_nodes_down_or_drained_make_the_centre_degraded() -> None:
    transport = ScriptedTransport({"squeue": "", "sinfo": "4/4/8/16\n"})
    load = SlurmScheduler(transport).load()
    assert (load.unavailable_cpus, load.degraded, load.usable) == (8, True, True)


@pytest.mark.parametrize("key", ["heroes-aaaaaaaa,heroes-bbbbbbbb", "heroes-aaaaaaaa --me", "", "x"])
def test_find_refuses_anything_but_one_key_before_running_a_command(key: str) -> None:
    transport = ScriptedTransport({})
    with pytest.raises(SpecError, match="is not a HEROES job key"):
        SlurmScheduler(transport).find(key)
    assert transport.calls == []
