"""Application images distributed to a centre's image cache: the test bed's archive (SeaweedFS),
its centre over SSH (block "local-slurm"), the transfer log in PostgreSQL, a real Slurm job.

Each test puts its images (random bytes, so keys of their own) in the test organisation's bucket
and works in a fresh first image root on the centre (below its work root), so the cache it fills,
tampers with and evicts is its own; both are removed afterwards. (Not a fresh organisation's
bucket: each bucket is a SeaweedFS collection with volumes of its own, and a test bed holding
many buckets has no volume left for a new one.)
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes_core import jobs
from heroes_core.catalog import ApplicationVersion
from heroes_core.catalog.image_cache import ImageCache, ensure_image
from heroes_core.containers import verify_image
from heroes_core.data import Requester, TransferLog
from heroes_core.errors import ImageError
from heroes_core.models import ImageRef, JobSpec, JobState, UserArea
from heroes_core.sites import Site, open_site

pytestmark = pytest.mark.integration
IMAGES = "_heroes/images/sha256"


@dataclass
class Bed:
    """A fresh organisation with its bucket, and the test bed's centre with a fresh image root."""

    organisation: str
    archive: CentralArchive
    site: Site
    root: str
    log: TransferLog
    keys: list[str]

    def publish(self, data: bytes, *, digest: str | None = None) -> ApplicationVersion:
        """Put ``data`` in the bucket where a catalogued version's image is (under ``digest``,
        its own by default) and return that version."""
        digest = digest or f"sha256:{hashlib.sha256(data).hexdigest()}"
        key = f"{IMAGES}/{digest.removeprefix('sha256:')}"
        self.keys.append(key)
        self.archive.s3_client().put_object(Bucket=self.bucket, Key=key, Body=data)
        return ApplicationVersion(name="app", version=digest[7:15], digest=digest, archive_key=key,
                                  size_bytes=len(data), parameter_schema={},
                                  registered_at=datetime.now(UTC), registered_by="packager",
                                  tested_digest_ok=True)

    @property
    def bucket(self) -> str:
        return self.archive.endpoint().bucket_for(self.organisation)

    def cache(self, **overrides: Any) -> ImageCache:
        return ImageCache(self.centre(**overrides))

    def centre(self, **overrides: Any) -> Site:
        return open_site(self.site.config.model_copy(update=overrides))

    def sh(self, script: str, *args: str) -> str:
        return str(self.site.transport.check(["sh", "-c", script, "sh", *args]).stdout)


@pytest.fixture
def bed(blocks: dict[str, str]) -> Iterator[Bed]:
    organisation = "itest"
    archive = CentralArchive.load("heroes-archive")
    bucket = archive.ensure_bucket(organisation)
    centre = HPCCentre.load("local-slurm").site_config()
    root = f"{centre.work_root}/itest-images-{uuid.uuid4().hex[:8]}"
    site = open_site(centre.model_copy(update={"image_roots": (root, *centre.effective_image_roots())}))
    log = TransferLog(HeroesDatabase.load("heroes-database").database())
    keys: list[str] = []
    try:
        yield Bed(organisation, archive, site, root, log, keys)
    finally:
        site.transport.run(["sh", "-c", 'chmod -R u+w -- "$1" 2>/dev/null; rm -rf -- "$1"', "sh", root])
        client = archive.s3_client()
        for key in keys:
            client.delete_object(Bucket=bucket, Key=key)


def test_an_image_is_copied_once_read_only_and_verified_then_found_in_the_cache(bed: Bed) -> None:
    data = os.urandom(3_000_000)
    version = bed.publish(data)
    key = f"heroes-itest-image-{uuid.uuid4().hex[:8]}"
    who = Requester(organisation=bed.organisation, user="ada", job_key=key)

    first = bed.cache().ensure_version(bed.archive.endpoint(), bed.organisation, version,
                                       requester=who, log=bed.log)

    image = first.image
    assert image == ImageRef(path=f"{bed.root}/cache/sha256/{version.digest[7:]}", digest=version.digest)
    assert (first.hit, first.bytes_transferred) == (False, len(data))
    assert bed.sh('stat -c "%a %s" -- "$1"', image.path) == f"444 {len(data)}\n"
    assert verify_image(bed.site.transport, image, roots=bed.site.image_roots) == image.path
    assert bed.sh('ls -A -- "$1"', f"{bed.root}/cache/.partial") == ""
    [record] = bed.log.list(organisation=bed.organisation, job_key=key)
    assert (record.user, record.bytes, record.source_site, record.destination_site) == (
        "ada", len(data), "archive", "local-slurm")

    second = bed.cache().ensure_version(bed.archive.endpoint(), bed.organisation, version,
                                        requester=who, log=bed.log)

    assert (second.hit, second.bytes_transferred, second.image) == (True, 0, image)
    assert len(bed.log.list(organisation=bed.organisation, job_key=key)) == 1  # a hit records nothing
    # ensure_image, as a flow calls it, gives the same reference
    assert ensure_image(bed.site, bed.archive.endpoint(), bed.organisation, version) == image


def test_an_image_tampered_with_on_the_centre_is_caught_before_a_job_uses_it(bed: Bed) -> None:
    data = os.urandom(1_000_000)
    version = bed.publish(data)
    image = ensure_image(bed.site, bed.archive.endpoint(), bed.organisation, version)
    bed.sh('chmod u+w -- "$1" && printf x >> "$1"', image.path)  # someone on the centre
    with pytest.raises(ImageError, match="has digest sha256:"):  # as a job would now get it
        verify_image(bed.site.transport, image, roots=bed.site.image_roots)

    again = bed.cache().ensure_version(bed.archive.endpoint(), bed.organisation, version)

    assert (again.hit, again.replaced_corrupt, again.bytes_transferred) == (False, True, len(data))
    assert verify_image(bed.site.transport, again.image, roots=bed.site.image_roots) == image.path
    assert bed.sh('stat -c %a -- "$1"', image.path) == "444\n"


def test_an_archive_object_that_does_not_match_the_catalogue_is_refused(bed: Bed) -> None:
    registered = os.urandom(100_000)
    version = bed.publish(os.urandom(100_000), digest=f"sha256:{hashlib.sha256(registered).hexdigest()}")

    with pytest.raises(ImageError, match=r"\[local-slurm\] the image .* not the catalogue's"):
        ensure_image(bed.site, bed.archive.endpoint(), bed.organisation, version)

    assert bed.sh('ls -A -- "$1" "$2"', f"{bed.root}/cache/sha256", f"{bed.root}/cache/.partial") == (
        f"{bed.root}/cache/.partial:\n\n{bed.root}/cache/sha256:\n")


def test_least_recently_used_images_are_evicted_when_the_cache_is_full(bed: Bed) -> None:
    versions = [bed.publish(os.urandom(1000)) for _ in range(4)]
    cache = bed.cache(image_cache_gb=3.5e-6)  # 3500 bytes: room for three
    paths = [cache.ensure_version(bed.archive.endpoint(), bed.organisation, v).image.path
             for v in versions[:3]]
    # last used 5, 9 and 7 days ago: the second is the least recently used, then the third
    for path, days in zip(paths, (5, 9, 7), strict=True):
        bed.sh(f'touch -d "{days} days ago" -- "$1"', path)

    fourth = cache.ensure_version(bed.archive.endpoint(), bed.organisation, versions[3])

    assert fourth.evicted == (versions[1].digest,)
    assert [entry.digest for entry in cache.entries()] == [versions[2].digest, versions[0].digest,
                                                          versions[3].digest]
    # the evicted image comes back on demand, pushing out the next least recently used
    back = cache.ensure_version(bed.archive.endpoint(), bed.organisation, versions[1])
    assert (back.hit, back.evicted) == (False, (versions[2].digest,))


def test_a_job_runs_the_cached_image_read_only_with_only_its_directory_bound(
        bed: Bed, image: dict[str, str]) -> None:
    tarball = base64.b64decode(bed.sh('base64 -w0 -- "$1"', image["path"]))
    version = bed.publish(tarball)
    assert version.digest == image["digest"]
    cached = ensure_image(bed.site, bed.archive.endpoint(), bed.organisation, version)
    assert cached.path.startswith(f"{bed.root}/cache/sha256/")

    area = UserArea(organisation=bed.organisation, user=f"u{uuid.uuid4().hex[:10]}")
    key = f"heroes-img-{uuid.uuid4().hex[:12]}"
    probe = ("touch /bin/heroes-probe 2>/dev/null && echo writable > /job/image.txt"
             " || echo read-only > /job/image.txt;"
             " awk '{print $4, $5, $6}' /proc/self/mountinfo > /job/mounts.txt")
    spec = JobSpec(image=cached, command=["sh", "-c", probe], time_limit_minutes=2)
    job_dir = jobs.ensure_job_directory(bed.site, area, key)
    try:
        jobs.validate(bed.site, spec)
        submitted = jobs.submit_once(bed.site, jobs.submission_for(bed.site, spec, key, job_dir))
        status = jobs.wait_for(bed.site, submitted.job_id, interval=0.5, max_interval=2)
        assert status.state is JobState.COMPLETED, status
        assert bed.sh('cat -- "$1"', f"{job_dir}/image.txt") == "read-only\n"
        seen = bed.sh('cat -- "$1"', f"{job_dir}/mounts.txt")
        mounts = {point: (source, options.split(",")) for source, point, options in
                  (line.split(" ") for line in seen.splitlines())}
        # Host paths bound in: the image (the copy Charliecloud unpacked from the cached file),
        # read-only, at /; the job's directory at /job; the name service files ch-run provides.
        binds = {point: source for point, (source, _) in mounts.items() if source != "/"}
        assert binds.pop("/") == f"{bed.site.image_cache_dir}/{version.digest[7:]}", seen
        assert "ro" in mounts["/"][1], seen
        assert binds.pop("/job") == job_dir, seen
        assert set(binds) <= {"/etc/hosts", "/etc/resolv.conf", "/etc/passwd", "/etc/group"}, seen
    finally:
        bed.site.transport.run(["rm", "-rf", "--", job_dir.rsplit("/", 1)[0]])  # the user's folder
