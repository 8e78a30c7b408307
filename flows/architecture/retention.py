"""Retention of job directories on the centres: the ``clean-job-directories`` deployment (scheduled).

Each job's directory stays on its centre while the job may still need it; once its outputs are
verified in the archive and the grace period has passed, it goes (:mod:`heroes_core.retention`
says exactly when). A table artifact shows every directory and why it was kept or removed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow
from prefect.artifacts import create_table_artifact

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_CENTRES, DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.retention import judge_job_directory, list_job_directories, retire_job_directory

RETENTION_CRON = "30 1 * * *"  # every day at 01:30 UTC


@flow(name="clean-job-directories", log_prints=True)
def clean_job_directories(centres: list[str] | None = None, grace_hours: float = 72.0,
                          organisations: list[str] | None = None, archive: str = DEFAULT_ARCHIVE,
                          database: str = DEFAULT_DATABASE) -> dict[str, int]:
    """Remove the job directories whose outputs are in the archive, ``grace_hours`` after their job ended.

    Args:
        centres: HPC Centre blocks to clean (default: every test-bed centre).
        grace_hours: how long after a job ended its directory stays on the centre.
        organisations: clean only these organisations' directories (default: all).
        archive: the Central Archive block holding the jobs' records and outputs.
        database: the HEROES Database block the last copies are recorded in.
    """
    now, grace = datetime.now(UTC), timedelta(hours=grace_hours)
    rows: list[dict[str, str]] = []
    removed: dict[str, int] = {}
    for centre in centres or list(DEFAULT_CENTRES):
        for directory in list_job_directories(centre):
            if organisations is not None and directory.organisation not in organisations:
                continue
            judged, report = judge_job_directory(archive, centre, directory, now=now, grace=grace)
            outcome = "kept"
            if judged.remove and report is not None:
                copied = retire_job_directory(archive, centre, report, directory, database)
                removed[directory.path] = copied
                outcome = "removed" + (f" ({copied} byte(s) copied first)" if copied else "")
            rows.append({"centre": centre, "directory": directory.path, "outcome": outcome,
                         "why": judged.reason})
    create_table_artifact(key=artifact_key("retention", now.strftime("%Y%m%d%H%M")), table=rows,
                          description=f"Job directories after retention ({len(removed)} removed)")
    return removed
