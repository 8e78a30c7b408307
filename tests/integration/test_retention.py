"""Retention on the real centre: a finished job's directory goes once its outputs are in the
archive and its grace has passed; a directory without a job record stays."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from heroes.flows import clean_job_directories, run_job
from heroes_core.jobs import job_key
from heroes_core.models import ImageRef, JobSpec, UserArea

pytestmark = pytest.mark.integration


def test_a_finished_jobs_directory_goes_after_its_grace_and_an_unrecorded_one_stays(
        image: dict[str, str], site: Any, archive: Any) -> None:
    organisation = f"ret{uuid.uuid4().hex[:8]}"
    spec = JobSpec(image=ImageRef(**image), command=["sh", "-c", "echo kept > out.txt"], time_limit_minutes=2)
    state = run_job(spec=spec, organisation=organisation, user="ada", billing=False, return_state=True)
    assert state.is_completed(), state.message
    root = f"{site.config.work_root}/{organisation}/ada"
    [finished] = [name for name in site.transport.run(["ls", root]).stdout.split()]
    stray = job_key(f"stray-{uuid.uuid4().hex}", owner=UserArea(organisation=organisation, user="ada"))
    assert site.transport.run(["mkdir", "-p", f"{root}/{stray}"]).ok

    kept = clean_job_directories(centres=["local-slurm"], grace_hours=1, organisations=[organisation])
    assert kept == {} and sorted(site.transport.run(["ls", root]).stdout.split()) == sorted([finished, stray])

    removed = clean_job_directories(centres=["local-slurm"], grace_hours=0, organisations=[organisation])
    assert removed == {f"{root}/{finished}": 0}, "the archive held every output: nothing to copy first"
    assert site.transport.run(["ls", root]).stdout.split() == [stray]
    bucket = archive.endpoint().bucket_for(organisation)
    listed = archive.s3_client().list_objects_v2(Bucket=bucket, Prefix=f"ada/jobs/{finished}/")
    assert f"ada/jobs/{finished}/out.txt" in {item["Key"] for item in listed.get("Contents", [])}
    site.transport.run(["rm", "-rf", "--", f"{site.config.work_root}/{organisation}"])
