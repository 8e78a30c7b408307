"""Retention: a job's directory on a centre goes once its outputs are safe in the archive, never before.

A job directory (``<work_root>/<organisation>/<user>/<job key>``) may be removed when

1. the job's record (:class:`~heroes_core.jobs.JobReport`) is in the archive: it is written only
   after the job ended and its outputs were staged out and verified;
2. the job ended more than the grace period ago, so a user still has time to look at the
   directory, and a late retry of the run finds it;
3. a last check-then-copy of the directory to the archive copies nothing, or copies what was
   missing and verifies it (the archive may have lost or been changed since): only then is the
   directory removed.

Anything else keeps the directory, with the reason: no record (the job is running, failed
before its stage-out, or its run crashed), a record still in its grace period, a record naming
another centre or owner than the directory it was found in.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from heroes_core.errors import PathEscapeError, TransportError
from heroes_core.jobs import JobReport, job_directory
from heroes_core.models import NAME_PATTERN, ORGANISATION_PATTERN, UserArea
from heroes_core.schedulers import KEY_PATTERN
from heroes_core.sites import Site


class JobDirectory(BaseModel):
    """A job's directory found on a centre, and whose it is."""

    model_config = ConfigDict(frozen=True)

    organisation: str
    user: str
    key: str
    path: str

    @property
    def area(self) -> UserArea:
        return UserArea(organisation=self.organisation, user=self.user)


class Verdict(BaseModel):
    """Whether a directory may go, and why (shown in the retention flow's table)."""

    directory: JobDirectory
    remove: bool
    reason: str


def job_directories(site: Site) -> list[JobDirectory]:
    """Every job directory under the centre's work root (three levels: organisation, user, key).

    Names that are not an organisation, a user and a job key (HEROES' own folders beside them,
    anything a person made by hand) are not job directories and are never listed.
    """
    root = site.config.work_root.rstrip("/")
    result = site.transport.run(["find", root, "-mindepth", "3", "-maxdepth", "3", "-type", "d"])
    if not result.ok:
        raise TransportError(f"cannot list the job directories under {root}: {result.describe()}",
                             site=site.name,
                             fix="check that work_root exists and belongs to the service account")
    found = []
    for line in result.stdout.splitlines():
        parts = line.removeprefix(root + "/").split("/")
        if len(parts) != 3:
            continue
        organisation, user, key = parts
        if (re.fullmatch(ORGANISATION_PATTERN, organisation) and re.fullmatch(NAME_PATTERN, user)
                and re.fullmatch(KEY_PATTERN, key)):
            found.append(JobDirectory(organisation=organisation, user=user, key=key, path=line))
    return sorted(found, key=lambda d: d.path)


def verdict(directory: JobDirectory, report: JobReport | None, site: str, *, now: datetime,
            grace: timedelta) -> Verdict:
    """May ``directory`` go, given the job record found for it (None: none in the archive)?"""
    if report is None:
        return Verdict(directory=directory, remove=False,
                       reason="no job record in the archive: running, or never staged out")
    if (report.site, report.organisation, report.user, report.key) != \
            (site, directory.organisation, directory.user, directory.key):
        return Verdict(directory=directory, remove=False,
                       reason=f"its record names {report.organisation}/{report.user}/{report.key} on "
                              f"{report.site}")
    ended = report.status.end_time
    if ended is None:
        return Verdict(directory=directory, remove=False, reason="its record has no end time")
    if ended + grace > now:
        return Verdict(directory=directory, remove=False,
                       reason=f"ended {ended:%Y-%m-%d %H:%M} UTC: kept until {ended + grace:%Y-%m-%d %H:%M}")
    return Verdict(directory=directory, remove=True,
                   reason=f"ended {ended:%Y-%m-%d %H:%M} UTC, outputs in the archive")


def remove_job_directory(site: Site, directory: JobDirectory) -> None:
    """Delete a job directory, only ever the one its owner's names and key make."""
    expected = job_directory(site, directory.area, directory.key)
    if directory.path != expected:
        raise PathEscapeError(f"{directory.path} is not the job directory {expected}", site=site.name)
    result = site.transport.run(["rm", "-rf", "--", expected])
    if not result.ok:
        raise TransportError(f"cannot remove {expected}: {result.describe()}", site=site.name,
                             fix="check the permissions of the job directory")
