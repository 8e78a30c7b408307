"""Transfers against the real test bed: SeaweedFS S3 and the centre over SFTP, recorded in the
project database (PostgreSQL): archive -> centre -> archive, re-staging unchanged data for
0 bytes, stage-in and stage-out through the Prefect tasks, and outputs over a limit refused."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import pytest

from heroes_core.containers import ENV_FILE_NAME
from heroes_core.data import (
    ArchiveLocation,
    MissingSourceError,
    Requester,
    SFTPEndpoint,
    SFTPLocation,
    TransferLimitError,
    TransferLog,
    TransferOutcome,
    TransferProgress,
    TransferRequest,
    transfer,
)
from heroes_core.jobs import JobContext, ensure_job_directory
from heroes_core.models import ImageRef, JobSpec

BUCKET = "heroes-itest"


@pytest.fixture
def centre(blocks: dict[str, str]):  # type: ignore[no-untyped-def]
    from heroes.blocks import HPCCentre
    return HPCCentre.load("local-slurm")


@pytest.fixture
def log(blocks: dict[str, str]) -> TransferLog:
    from heroes.blocks import HeroesDatabase
    return TransferLog(HeroesDatabase.load("heroes-database").database())


def upload(archive, user: str, files: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    client = archive.s3_client()
    for name, body in files.items():
        client.put_object(Bucket=BUCKET, Key=f"{user}/{name}", Body=body)


def objects(archive, prefix: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    client = archive.s3_client()
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"].removeprefix(prefix): client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            for item in listing.get("Contents", [])}


def centre_md5(site, directory: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = site.transport.check(["sh", "-c", 'cd "$1" && find . -type f -exec md5sum {} +', "sh",
                                  directory])
    return {line.split("  ", 1)[1].removeprefix("./"): line.split("  ", 1)[0]
            for line in found.stdout.splitlines()}


FILES = {"data/a.txt": b"alpha\n", "data/sub/b.bin": os.urandom(3 << 20), "data/c.txt": b"c" * 1000}


def test_archive_to_centre_and_back_verified_recorded_and_restaged_for_nothing(
        archive, centre, log, user) -> None:  # type: ignore[no-untyped-def]
    upload(archive, user, FILES)
    site = centre.site()
    key = f"itest-{uuid.uuid4().hex[:8]}"
    who = Requester(organisation="itest", user=user, project="transfers", job_key=key)
    source = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/data")
    there = SFTPLocation(server=SFTPEndpoint.of_site(centre.site_config()),
                         path=f"{site.config.work_root}/itest-transfer-{user}")
    back = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/back")
    seen: list[TransferProgress] = []
    try:
        first = transfer(TransferRequest(requester=who, source=source, destination=there), log=log,
                         on_progress=seen.append)
        assert (first.files_checked, first.files_transferred) == (3, 3)
        assert first.bytes_transferred == sum(map(len, FILES.values()))
        assert centre_md5(site, there.path) == {name.removeprefix("data/"): hashlib.md5(body).hexdigest()
                                                for name, body in FILES.items()}
        assert {p.phase for p in seen} >= {"check", "copy", "verify"}

        again = transfer(TransferRequest(requester=who, source=source, destination=there), log=log)
        assert (again.files_checked, again.files_transferred, again.bytes_transferred) == (3, 0, 0)

        home = transfer(TransferRequest(requester=who, source=there, destination=back), log=log)
        assert home.files_transferred == 3
        assert objects(archive, f"{user}/back/") == {name.removeprefix("data/"): body
                                                     for name, body in FILES.items()}
    finally:
        site.transport.run(["rm", "-rf", "--", there.path])

    rows = log.list(organisation="itest", job_key=key)
    assert [row.outcome for row in rows] == [TransferOutcome.SUCCEEDED] * 3
    assert [row.bytes for row in rows] == [first.bytes_transferred, 0, first.bytes_transferred]
    newest, _, oldest = rows
    assert (oldest.source_site, oldest.source) == ("archive", f"s3://{BUCKET}/{user}/data/")
    assert (oldest.destination_site, oldest.destination) == ("local-slurm", there.label)
    assert (oldest.user, oldest.project, oldest.files, oldest.files_checked) == (
        user, "transfers", 3, 3)
    assert (newest.source_site, newest.destination_site) == ("local-slurm", "archive")


def test_stage_in_and_out_are_recorded_shown_and_held_to_the_output_limit(
        archive, centre, log, user, image: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from heroes.tasks import stage_in, stage_out

    site = centre.site()
    context = JobContext.for_run(str(uuid.uuid4()), organisation="itest", user=user,
                                 site="local-slurm")
    spec = JobSpec(image=ImageRef(**image), command=["true"], time_limit_minutes=1,
                   inputs=["in/x.txt", "in/y.txt"])
    job_dir = ensure_job_directory(site, context.area, context.key)
    try:
        with pytest.raises(MissingSourceError) as missing:
            stage_in(archive, centre, context, spec, job_dir)
        assert (f"2 file(s) in/x.txt, in/y.txt not found in the archive at s3://{BUCKET}/{user}/"
                in str(missing.value))
        assert site.transport.check(["ls", "-A", job_dir]).stdout == ""  # no byte moved

        upload(archive, user, {"in/x.txt": b"x" * 10, "in/y.txt": b"y" * 20})
        staged = stage_in(archive, centre, context, spec, job_dir)
        assert staged is not None and (staged.files_transferred, staged.bytes_transferred) == (2, 30)
        assert artifact_progress(f"stage-in-{context.key}") == 100.0

        site.transport.check(["sh", "-c", 'cd "$1" && head -c 1000 /dev/zero > out.dat && '
                                          'echo SECRET=1 > "$2"', "sh", job_dir, ENV_FILE_NAME])
        with pytest.raises(TransferLimitError) as refused:
            stage_out(archive, centre, context, spec, job_dir, output_limit_bytes=500)
        message = str(refused.value)
        assert f"job {context.key}" in message and "1000 bytes in 1 file(s)" in message
        assert "limit of 500 B (500 bytes)" in message and "[local-slurm]" in message
        outputs = f"{user}/jobs/{context.key}/"
        assert objects(archive, outputs) == {}

        report = stage_out(archive, centre, context, spec, job_dir, output_limit_bytes=1000)
        assert (report.files_checked, report.bytes_transferred) == (1, 1000)
        assert objects(archive, outputs) == {"out.dat": b"\0" * 1000}  # no inputs, no env file
        again = stage_out(archive, centre, context, spec, job_dir)
        assert again.bytes_transferred == 0
    finally:
        site.transport.run(["rm", "-rf", "--", job_dir])

    rows = log.list(organisation="itest", job_key=context.key)
    assert [(row.outcome, row.bytes) for row in rows] == [
        (TransferOutcome.SUCCEEDED, 0), (TransferOutcome.SUCCEEDED, 1000),
        (TransferOutcome.FAILED, 0), (TransferOutcome.SUCCEEDED, 30), (TransferOutcome.FAILED, 0)]
    assert "limit of 500 B" in (rows[2].error or "") and "not found" in (rows[4].error or "")
    assert rows[3].what == "2 file(s): in/x.txt, in/y.txt"
    assert rows[1].what == "whole directory excluding /in/x.txt, /in/y.txt, /.heroes-env"


def artifact_progress(key: str) -> Any:
    """The newest progress artifact under ``key``: what the UI shows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                      sort=ArtifactSort.CREATED_DESC, limit=1)
    assert found, f"no artifact {key}"
    data = found[0].data
    return json.loads(data) if isinstance(data, str) else data
