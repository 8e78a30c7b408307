"""Retention decides from the archive's job record, lists only job directories, removes only them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from heroes_core.errors import PathEscapeError
from heroes_core.jobs import JobContext, JobReport
from heroes_core.models import ImageRef, JobSpec, JobState, JobStatus
from heroes_core.retention import JobDirectory, job_directories, remove_job_directory, verdict
from heroes_core.sites import SiteConfig, open_site

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SPEC = JobSpec(image=ImageRef(path="/img/x.tar.gz", digest="sha256:" + "a" * 64), command=["true"])


def context(user: str = "ada") -> JobContext:
    return JobContext.for_run("run-1", organisation="acme", user=user, site="hpc1")


def report(ended: datetime | None, **changes: str) -> JobReport:
    made = JobReport.of(context(), SPEC, JobStatus(job_id="7", state=JobState.COMPLETED, end_time=ended))
    return made.model_copy(update=changes)


def directory(key: str | None = None) -> JobDirectory:
    key = key or context().key
    return JobDirectory(organisation="acme", user="ada", key=key, path=f"/w/acme/ada/{key}")


def test_a_directory_goes_only_once_its_record_is_archived_and_its_grace_has_passed() -> None:
    grace = timedelta(hours=24)
    assert not verdict(directory(), None, "hpc1", now=NOW, grace=grace).remove
    recent = verdict(directory(), report(NOW - timedelta(hours=2)), "hpc1", now=NOW, grace=grace)
    assert not recent.remove and "kept until 2026-03-02 10:00" in recent.reason
    assert verdict(directory(), report(NOW - timedelta(hours=25)), "hpc1", now=NOW, grace=grace).remove
    assert not verdict(directory(), report(None), "hpc1", now=NOW, grace=grace).remove


def test_a_record_of_another_centre_owner_or_job_keeps_the_directory() -> None:
    old = NOW - timedelta(days=9)
    for judged in (verdict(directory(), report(old), "hpc2", now=NOW, grace=timedelta(0)),
                   verdict(directory(), report(old, user="bob"), "hpc1", now=NOW, grace=timedelta(0)),
                   verdict(directory(context("eve").key), report(old), "hpc1", now=NOW, grace=timedelta(0))):
        assert not judged.remove and "its record names" in judged.reason


def test_only_organisation_user_and_key_directories_are_listed_and_removed(tmp_path: Path) -> None:
    site = open_site(SiteConfig(name="hpc1", host="h", user="svc", work_root=str(tmp_path), transport="local"))
    key = context().key
    for made in (f"acme/ada/{key}", "acme/ada/not-a-key", "images/cache/sha256", f"acme/ada/{key}/sub"):
        (tmp_path / made).mkdir(parents=True, exist_ok=True)
    [found] = job_directories(site)
    assert (found.organisation, found.user, found.key) == ("acme", "ada", key)
    remove_job_directory(site, found)
    assert not (tmp_path / "acme" / "ada" / key).exists() and (tmp_path / "acme" / "ada" / "not-a-key").exists()
    with pytest.raises(PathEscapeError):
        remove_job_directory(site, found.model_copy(update={"path": str(tmp_path / "acme")}))
