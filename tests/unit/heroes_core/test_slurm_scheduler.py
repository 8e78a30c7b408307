"""SlurmScheduler's command lines and parsing, against a scripted transport."""

from datetime import datetime

import pytest

from heroes_core.errors import SchedulerError, SpecError
from heroes_core.models import JobState
from heroes_core.schedulers import JobSubmission, SlurmScheduler
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

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


SQUEUE = "\n".join([
    "10|RUNNING|None|2026-11-26T06:00:00|2026-11-26T06:00:01",
    "11|PENDING|Resources|2026-11-26T06:00:00|N/A",
    "12|COMPLETED|None|2026-11-26T06:00:00|2026-11-26T06:00:01",
    "99|RUNNING|None|2026-11-26T06:00:00|2026-11-26T06:00:01",
])
SACCT = "\n".join([
    "12|COMPLETED|0:0|None|2026-11-26T06:00:00|2026-11-26T06:00:01|2026-11-26T06:00:05",
    "13|FAILED|3:0|None|2026-11-26T06:00:00|2026-11-26T06:00:01|2026-11-26T06:00:02",
    "14|TIMEOUT|0:15|None|2026-11-26T06:00:00|2026-11-26T06:00:01|2026-11-26T06:01:02",
])


def test_one_squeue_and_one_sacct_cover_every_job_per_round() -> None:
    transport = ScriptedTransport({"squeue": SQUEUE, "sacct": SACCT})
    statuses = SlurmScheduler(transport).query(["10", "11", "12", "13", "14", "15"],
                                               since=datetime(2026, 11, 26))
    assert transport.programs() == ["squeue", "sacct"]
    assert statuses["10"].state is JobState.RUNNING
    assert statuses["11"].state is JobState.PENDING and "Resources" in statuses["11"].reason
    assert statuses["12"].state is JobState.COMPLETED and statuses["12"].exit_code == 0
    assert statuses["13"].state is JobState.FAILED and statuses["13"].exit_code == 3
    assert statuses["14"].state is JobState.FAILED and "TIMEOUT" in statuses["14"].reason
    assert statuses["15"].state is JobState.UNKNOWN
    assert "99" not in statuses
    sacct = transport.calls[1]
    assert "--starttime=2026-11-26T00:00:00" in sacct
    assert "--jobs=12,13,14,15" in sacct


def test_live_jobs_need_no_sacct() -> None:
    transport = ScriptedTransport({"squeue": SQUEUE})
    SlurmScheduler(transport).query(["10", "11"])
    assert transport.programs() == ["squeue"]


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


def test_parse_time_for_5000_jobs_is_linear_in_lines() -> None:
    lines = "\n".join(f"{i}|RUNNING|None|2026-11-26T06:00:00|2026-11-26T06:00:01" for i in range(5000))
    statuses = SlurmScheduler(ScriptedTransport({})).parse_status(lines)
    assert len(statuses) == 5000


def test_site_load_counts_everyones_jobs_and_cpus() -> None:
    transport = ScriptedTransport({"squeue": "PENDING\nRUNNING\nPENDING\n", "sinfo": "4/12/0/16\n"})
    load = SlurmScheduler(transport).load()
    assert (load.pending_jobs, load.running_jobs, load.idle_cpus, load.total_cpus) == (2, 1, 12, 16)
