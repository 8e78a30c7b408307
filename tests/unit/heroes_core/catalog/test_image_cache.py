"""The image cache on a centre, here a local one: copied once by digest through transfer(), checked
every time, read-only, least recently used out but never an image a job may still need."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from heroes_core.catalog import ApplicationVersion
from heroes_core.catalog import image_cache as cache_module
from heroes_core.catalog.image_cache import IMAGE_CACHE_USER, EnsuredImage, ImageCache, archive_source
from heroes_core.containers import verify_image
from heroes_core.data import LocalLocation, Requester, S3Endpoint, TransferLog
from heroes_core.errors import ImageError
from heroes_core.models import ImageRef
from heroes_core.sites import Site, SiteConfig, open_site
from heroes_core.store import Database

WHO = Requester(organisation="acme", user="ada", job_key="heroes-k1")
DAY = 24 * 3600


def local_site(tmp_path: Path, **overrides: object) -> Site:
    config = SiteConfig(name="hpc1", host="h", user="svc", work_root=str(tmp_path / "work"),
                        transport="local", container_runtime="charliecloud",
                        image_roots=(str(tmp_path / "images"), str(tmp_path / "published")),
                        **overrides)  # type: ignore[arg-type]
    return open_site(config)


class Archive:
    """A folder standing in for the archive: images by name, each with its digest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.location = LocalLocation(path=str(root))

    def put(self, name: str, data: bytes) -> str:
        (self.root / name).write_bytes(data)
        return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "archive")


def ensure(cache: ImageCache, archive: Archive, name: str, digest: str,
           log: TransferLog | None = None) -> EnsuredImage:
    return cache.ensure(digest, archive.location, name, requester=WHO,
                        size_bytes=(archive.root / name).stat().st_size, log=log)


def age(path: str, seconds: float) -> None:
    """Make ``path`` look last used ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_first_ensure_copies_verifies_and_records_the_second_is_a_hit(
        tmp_path: Path, archive: Archive, database: Database) -> None:
    site, log = local_site(tmp_path), TransferLog(database)
    digest = archive.put("solver.sif", os.urandom(200_000))
    cache = ImageCache(site)

    first = ensure(cache, archive, "solver.sif", digest, log)

    path = Path(first.image.path)
    assert first.image == ImageRef(path=f"{tmp_path}/images/cache/sha256/{digest[7:]}", digest=digest)
    assert (first.hit, first.bytes_transferred, first.replaced_corrupt) == (False, 200_000, False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert verify_image(site.transport, first.image, roots=site.image_roots) == str(path)
    assert list((tmp_path / "images" / "cache" / ".partial").iterdir()) == []  # staging gone
    [record] = log.list(organisation="acme")
    assert (record.bytes, record.user, record.job_key) == (200_000, "ada", "heroes-k1")
    assert record.destination.startswith(f"local:{tmp_path}/images/cache/.partial/{digest[7:]}.")

    age(str(path), 3600)
    second = ensure(cache, archive, "solver.sif", digest, log)

    assert (second.hit, second.bytes_transferred, second.image) == (True, 0, first.image)
    assert len(log.list(organisation="acme")) == 1  # nothing moved, nothing recorded
    assert time.time() - path.stat().st_mtime < 60, "a hit marks the image used"


def test_a_tampered_cached_image_is_caught_removed_and_fetched_again(
        tmp_path: Path, archive: Archive) -> None:
    site = local_site(tmp_path)
    digest = archive.put("app.sif", b"the real image" * 1000)
    cache = ImageCache(site)
    path = Path(ensure(cache, archive, "app.sif", digest).image.path)
    path.chmod(0o644)
    with path.open("ab") as handle:
        handle.write(b"\0")

    again = ensure(cache, archive, "app.sif", digest)

    assert (again.hit, again.replaced_corrupt, again.bytes_transferred) == (False, True, 14_000)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest[7:]
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_anything_but_a_regular_file_at_an_images_name_is_replaced(
        tmp_path: Path, archive: Archive) -> None:
    site = local_site(tmp_path)
    digest = archive.put("app.sif", b"image")
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"image")  # even with the right content: a link may be changed later
    cache = ImageCache(site)
    Path(cache.directory).mkdir(parents=True)
    Path(cache.path_of(digest)).symlink_to(decoy)

    found = ensure(cache, archive, "app.sif", digest)

    path = Path(found.image.path)
    assert found.replaced_corrupt and not path.is_symlink() and path.read_bytes() == b"image"


def test_an_archive_object_that_does_not_match_its_digest_is_refused_and_nothing_cached(
        tmp_path: Path, archive: Archive, database: Database) -> None:
    site = local_site(tmp_path)
    digest = archive.put("app.sif", b"what was registered")
    (archive.root / "app.sif").write_bytes(b"what is there now!!")  # same size, other bytes
    cache = ImageCache(site)

    with pytest.raises(ImageError, match=r"has digest sha256:[0-9a-f]{64}, not the catalogue's") as error:
        ensure(cache, archive, "app.sif", digest, TransferLog(database))

    assert error.value.site == "hpc1" and "register the image again" in str(error.value)
    assert not Path(cache.path_of(digest)).exists()
    assert list(Path(cache.partial_root).iterdir()) == []


def test_an_image_larger_than_the_whole_cache_is_refused_before_anything_moves(
        tmp_path: Path, archive: Archive, database: Database) -> None:
    site = local_site(tmp_path, image_cache_gb=0.000001)  # 1000 bytes
    digest = archive.put("big.sif", b"x" * 1001)
    log = TransferLog(database)

    with pytest.raises(ImageError, match="larger than the centre's whole image cache"):
        ensure(ImageCache(site), archive, "big.sif", digest, log)

    assert log.list(organisation="acme") == []


def test_least_recently_used_images_go_first_until_the_cache_fits(
        tmp_path: Path, archive: Archive) -> None:
    site = local_site(tmp_path, image_cache_gb=0.0000035)  # 3500 bytes: three images of 1000
    cache = ImageCache(site)
    digests = [archive.put(f"i{n}.sif", bytes([n]) * 1000) for n in range(4)]
    paths = [ensure(cache, archive, f"i{n}.sif", digests[n]).image.path for n in range(3)]
    for path, days in zip(paths, (5, 9, 7), strict=True):  # i1 is the least recently used, then i2
        age(path, days * DAY)
    unpacked = Path(site.image_cache_dir) / digests[1][7:]  # what Charliecloud unpacked from i1
    (unpacked / "bin").mkdir(parents=True)
    (unpacked / "bin" / "sh").write_bytes(b"")
    (unpacked / "bin").chmod(0o555)

    fourth = ensure(cache, archive, "i3.sif", digests[3])

    assert fourth.evicted == (digests[1],)
    assert not Path(paths[1]).exists() and not unpacked.exists()
    assert [entry.digest for entry in cache.entries()] == [digests[2], digests[0], digests[3]]
    assert sum(entry.size for entry in cache.entries()) == 3000


def test_images_a_job_may_still_need_are_never_evicted(tmp_path: Path, archive: Archive) -> None:
    site = local_site(tmp_path, image_cache_gb=0.0000015)  # room for one image of 1000 bytes
    cache = ImageCache(site, in_use_window=timedelta(hours=2))
    digests = [archive.put(f"i{n}.sif", bytes([n]) * 1000) for n in range(3)]
    old = ensure(cache, archive, "i0.sif", digests[0]).image.path
    age(old, 3 * 3600)
    ensure(cache, archive, "i1.sif", digests[1])  # evicts i0, unused for 3 hours

    third = ensure(cache, archive, "i2.sif", digests[2])

    # i1 was ensured minutes ago (a job may be queued on it): the cache stays above its size
    assert third.evicted == () and not Path(old).exists()
    assert sorted(entry.digest for entry in cache.entries()) == sorted(digests[1:])


def test_the_default_in_use_window_covers_the_longest_job_and_a_day_of_queueing(tmp_path: Path) -> None:
    from heroes_core.sites import SiteLimits

    cache = ImageCache(local_site(tmp_path, limits=SiteLimits(max_time_limit_minutes=600)))
    assert cache.in_use_window == timedelta(hours=10) + timedelta(days=1)
    assert cache.capacity_bytes == 50 * 10**9


def test_two_jobs_ensuring_the_same_image_at_once_both_get_it_whole(
        tmp_path: Path, archive: Archive) -> None:
    site = local_site(tmp_path)
    data = os.urandom(2_000_000)
    digest = archive.put("app.sif", data)
    cache = ImageCache(site)
    results: list[EnsuredImage] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        try:
            results.append(ensure(cache, archive, "app.sif", digest))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert {result.image.path for result in results} == {cache.path_of(digest)}
    assert Path(cache.path_of(digest)).read_bytes() == data
    assert list(Path(cache.partial_root).iterdir()) == []
    assert [entry.digest for entry in cache.entries()] == [digest]


def test_staging_left_by_a_copy_that_died_is_cleared_after_a_day(tmp_path: Path) -> None:
    cache = ImageCache(local_site(tmp_path))
    dead, live = Path(cache.partial_root) / "ab.dead", Path(cache.partial_root) / "cd.live"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "part").write_bytes(b"x")
    age(str(dead), 2 * DAY)

    assert cache.entries() == []

    assert not dead.exists() and live.exists()


def test_a_failed_transfer_leaves_no_staging_behind(tmp_path: Path, archive: Archive) -> None:
    cache = ImageCache(local_site(tmp_path))
    with pytest.raises(Exception, match=r"not found"):
        cache.ensure(f"sha256:{'ab' * 32}", archive.location, "missing.sif", requester=WHO)
    assert list(Path(cache.partial_root).iterdir()) == []


def test_a_digest_that_is_not_sha256_is_refused(tmp_path: Path, archive: Archive) -> None:
    with pytest.raises(ImageError, match="is not 'sha256:<64 hex digits>'"):
        ImageCache(local_site(tmp_path)).ensure("md5:abc", archive.location, "x", requester=WHO)


def version(archive_key: str, digest: str = f"sha256:{'ef' * 32}") -> ApplicationVersion:
    from datetime import UTC, datetime

    return ApplicationVersion(name="solver", version="1.0", digest=digest, archive_key=archive_key,
                              size_bytes=123, parameter_schema={}, registered_at=datetime.now(UTC),
                              registered_by="packager", tested_digest_ok=True)


def test_a_versions_image_is_read_from_its_owners_bucket() -> None:
    s3 = S3Endpoint(endpoint_url="http://s3", access_key_id="k", secret_access_key="s")  # type: ignore[arg-type]
    source, name = archive_source(s3, "acme", version(f"_heroes/images/sha256/{'ef' * 32}"))
    assert (source.path, name) == ("heroes-acme/_heroes/images/sha256", "ef" * 32)
    source, name = archive_source(s3, "acme", version("top.sif"))
    assert (source.path, name) == ("heroes-acme", "top.sif")


def test_ensure_image_records_the_transfer_for_the_owner_unless_told_whom(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str, Requester, int | None]] = []

    def fake(self: ImageCache, digest: str, source: LocalLocation, name: str, *, requester: Requester,
             size_bytes: int | None = None, **_: object) -> EnsuredImage:
        seen.append((source.path, name, requester, size_bytes))
        return EnsuredImage(image=ImageRef(path=self.path_of(digest), digest=digest), hit=True)

    monkeypatch.setattr(ImageCache, "ensure", fake)
    s3 = S3Endpoint(endpoint_url="http://s3", access_key_id="k", secret_access_key="s")  # type: ignore[arg-type]
    site = local_site(tmp_path)

    image = cache_module.ensure_image(site, s3, "acme", version("_heroes/images/sha256/x"))
    cache_module.ensure_image(site, s3, "acme", version("_heroes/images/sha256/x"), requester=WHO)

    assert image.path == f"{tmp_path}/images/cache/sha256/{'ef' * 32}"
    assert seen == [("heroes-acme/_heroes/images/sha256", "x",
                     Requester(organisation="acme", user=IMAGE_CACHE_USER), 123),
                    ("heroes-acme/_heroes/images/sha256", "x", WHO, 123)]
