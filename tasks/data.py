"""Prefect task for data: one transfer between any two endpoints, followed in the UI, recorded.

    from heroes.tasks.data import archive_location, centre_location, transfer

    transfer(archive_location("heroes-archive", "heroes-acme/ann/inputs"),
             centre_location("hpc1", "/scratch/heroes/acme/ann/run1"),
             Requester(organisation="acme", user="ann"))

The copy's retries (with back-off, transient failures only) are the core's
(:func:`heroes_core.data.transfer`), so the task itself has none: a second Prefect attempt
would only repeat a refused key or a missing file. While it runs, a progress artifact shows how
far it is and a log line every ~10 s gives bytes, rate and ETA; its record goes to the project
database whether it succeeds or fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes.blocks.defaults import DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.resolve import centre_endpoint, load_archive, transfer_log
from heroes_core import data
from heroes_core.data import (
    ArchiveLocation,
    Location,
    Requester,
    SFTPLocation,
    TransferOptions,
    TransferProgress,
    TransferReport,
    TransferRequest,
)
from heroes_core.data.transfers import human_bytes


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def describe(progress: TransferProgress) -> str:
    """One line a person reads: how far, how fast, how long still."""
    if progress.phase == "check":
        return (f"compared {progress.total_files} file(s): {progress.total_files - progress.files} "
                "to copy")
    if progress.phase == "verify":
        return f"verified {progress.files} of {progress.total_files} copied file(s) by checksum"
    if progress.phase == "retry":
        return (f"attempt {progress.attempt} failed ({progress.note}); trying again in "
                f"{_eta(progress.eta_s)}")
    return (f"{human_bytes(progress.bytes)} of {human_bytes(progress.total_bytes)} "
            f"({progress.fraction:.0%}), {progress.files}/{progress.total_files} file(s), "
            f"{human_bytes(progress.rate)}/s, ETA {_eta(progress.eta_s)}")


class ProgressReporter:
    """Shows a running transfer in the Prefect UI: a progress artifact updated at most every
    ``artifact_every_s``, a log line at most every ``log_every_s`` (retries at once).

    Reporting never fails the transfer: if the Prefect API refuses an update, the artifact is
    left as it is and one warning says why.
    """

    def __init__(self, title: str, *, key: str | None = None, logger: Any = None,
                 artifact_every_s: float = 3.0, log_every_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.title, self.key = title, key
        self.logger = logger or get_run_logger()
        self.artifact_every_s, self.log_every_s, self.clock = artifact_every_s, log_every_s, clock
        self.artifact: UUID | None = None
        self.artifact_broken = False
        self.last_artifact = self.last_log = float("-inf")

    def __call__(self, progress: TransferProgress) -> None:
        now, line = self.clock(), describe(progress)
        if progress.phase == "retry":
            self.logger.warning("%s: %s", self.title, line)
        elif progress.phase == "copy" and now - self.last_log >= self.log_every_s:
            self.last_log = now
            self.logger.info("%s: %s", self.title, line)
        if now - self.last_artifact >= self.artifact_every_s or progress.phase == "retry":
            self.last_artifact = now
            self.show(100.0 * progress.fraction if progress.phase == "copy" else
                      (100.0 if progress.phase == "verify" else 0.0), line)

    def finished(self, report: TransferReport) -> None:
        line = (f"done: {report.files_transferred} of {report.files_checked} file(s) copied, "
                f"{human_bytes(report.bytes_transferred)} in {report.duration_s:.1f} s, verified")
        self.logger.info("%s: %s", self.title, line)
        self.show(100.0, line)

    def show(self, percent: float, line: str) -> None:
        if self.artifact_broken:
            return
        description = f"**{self.title}**: {line}"
        try:
            if self.artifact is None:
                created = create_progress_artifact(progress=percent, key=self.key,
                                                   description=description)
                if not isinstance(created, UUID):  # a coroutine: called from async code
                    created.close()
                    raise TypeError("create_progress_artifact must be called from synchronous code")
                self.artifact = created
            else:
                update_progress_artifact(artifact_id=self.artifact, progress=percent,
                                         description=description)
        except Exception as exc:  # the UI is a view: it must not stop the data
            self.artifact_broken = True
            self.logger.warning("%s: progress not shown in the UI (%s)", self.title, exc)


def archive_location(archive: CentralArchive | str, path: str) -> ArchiveLocation:
    """``bucket/prefix`` in the central archive."""
    return ArchiveLocation(archive=load_archive(archive).endpoint(), path=path)


def centre_location(centre: HPCCentre | str, path: str) -> SFTPLocation:
    """A directory on a centre (or a cloud cluster's headnode, registered as a centre)."""
    return SFTPLocation(server=centre_endpoint(centre), path=path)


@task(name="transfer", cache_policy=NO_CACHE)
def transfer(source: Location, destination: Location, requester: Requester,
             files: list[str] | None = None, exclude: list[str] | None = None,
             options: TransferOptions | None = None, limit_bytes: int | None = None,
             database: HeroesDatabase | str | None = DEFAULT_DATABASE) -> TransferReport:
    """Copy what differs from ``source`` to ``destination``, verify it by checksum, record it.

    Args:
        source, destination: :func:`archive_location` / :func:`centre_location` (or any
            :class:`~heroes_core.data.Location`).
        requester: who the transfer is for (organisation, project, user, job key); the flow
            run is this one unless given.
        files: names relative to the source (default: everything below it).
        exclude: rclone filter patterns to leave out.
        options: bandwidth limit, parallelism, retries (see :class:`TransferOptions`).
        limit_bytes: refuse, before copying, a source holding more than this.
        database: the HEROES Database block recording the transfer (None: the default database).
    """
    if requester.flow_run_id is None and flow_run.get_id():
        requester = requester.model_copy(update={"flow_run_id": str(flow_run.get_id())})
    request = TransferRequest(requester=requester, source=source, destination=destination,
                              files=files, exclude=exclude or [], limit_bytes=limit_bytes,
                              options=options or TransferOptions())
    key = artifact_key("transfer", requester.job_key) if requester.job_key else None
    reporter = ProgressReporter(f"Transfer {source.label} -> {destination.label}", key=key)
    report = data.transfer(request, log=transfer_log(database), on_progress=reporter)
    reporter.finished(report)
    return report


__all__ = ["ProgressReporter", "archive_location", "centre_location", "describe", "transfer"]
