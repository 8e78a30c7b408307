"""Making an application's image available on a centre: the first time (copied from the archive
into the centre's image cache, verified) and again (a cache hit: the cached file's digest checked).

A random image (200 MB by default) is put in the test bed's archive where the catalogue keeps
images (``heroes-bench/_heroes/images/sha256/<hex>``), then ensured on the test bed's centre in a
fresh image root, the production way (:class:`heroes_core.catalog.image_cache.ImageCache`: rclone
over SFTP, the checksums over SSH). Each round removes the cached file, ensures the image (first
time) and ensures it again (hit). The archive object and the centre's files are removed at the
end. Prints the figures, then a final JSON line: ``image_first_s`` and ``image_cache_hit_s``
(medians over the rounds; target for a hit: under 1 s).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from _testbed import median, open_centre, testbed

from heroes_core.catalog import ApplicationVersion
from heroes_core.catalog.image_cache import ImageCache
from heroes_core.data import (
    ArchiveLocation,
    LocalLocation,
    Rclone,
    Requester,
    S3Endpoint,
    TransferRequest,
    transfer,
)
from heroes_core.data.transfers import human_bytes
from heroes_core.sites import open_site

ORGANISATION = "bench"
WHO = Requester(organisation=ORGANISATION, user="image-push")


def make_image(folder: Path, size_mb: int) -> tuple[str, int]:
    """A random file named by its sha256 (as the catalogue names images); its hex and size."""
    digest = hashlib.sha256()
    staged = folder / "image"
    with open(staged, "wb") as handle:
        for _ in range(size_mb):
            chunk = os.urandom(1_000_000)
            digest.update(chunk)
            handle.write(chunk)
    hex_digest = digest.hexdigest()
    staged.rename(folder / hex_digest)
    return hex_digest, size_mb * 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=200, help="image size in MB (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=3, help="first-time + hit pairs")
    args = parser.parse_args()

    s3 = testbed()["s3"]
    archive = S3Endpoint(endpoint_url=s3["endpoint"], access_key_id=s3["access_key"],
                         secret_access_key=s3["secret_key"], region=s3.get("region", "us-east-1"))
    centre = open_centre()
    root = f"{centre.config.work_root}/bench-images-{uuid.uuid4().hex[:8]}"
    site = open_site(centre.config.model_copy(update={"image_roots": (root,)}))
    rclone = Rclone()
    bucket = archive.bucket_for(ORGANISATION)
    rclone.run(["mkdir", f"{rclone.remote(archive)}:{bucket}"])
    images = ArchiveLocation(archive=archive, path=f"{bucket}/_heroes/images/sha256")
    local = Path(tempfile.mkdtemp(prefix="heroes-bench-image-"))
    first: list[float] = []
    hits: list[float] = []
    hex_digest, size = "", 0
    try:
        hex_digest, size = make_image(local, args.size_mb)
        transfer(TransferRequest(requester=WHO, source=LocalLocation(path=str(local)),
                                 destination=images, files=[hex_digest]), rclone=rclone)
        shutil.rmtree(local)
        version = ApplicationVersion(
            name="bench-image", version="1", digest=f"sha256:{hex_digest}",
            archive_key=f"_heroes/images/sha256/{hex_digest}", size_bytes=size, parameter_schema={},
            registered_at=datetime.now(UTC), registered_by="bench", tested_digest_ok=True)
        cache = ImageCache(site, rclone=rclone)
        for _ in range(args.rounds):
            site.transport.check(["rm", "-f", "--", cache.path_of(version.digest)])
            started = time.perf_counter()
            done = cache.ensure_version(archive, ORGANISATION, version, requester=WHO)
            first.append(time.perf_counter() - started)
            assert not done.hit and done.bytes_transferred == size, done
            started = time.perf_counter()
            again = cache.ensure_version(archive, ORGANISATION, version, requester=WHO)
            hits.append(time.perf_counter() - started)
            assert again.hit and again.bytes_transferred == 0, again
    finally:
        shutil.rmtree(local, ignore_errors=True)
        site.transport.run(["sh", "-c", 'chmod -R u+w -- "$1"; rm -rf -- "$1"', "sh", root])
        if hex_digest:
            rclone.run(["deletefile", images.joinpath(hex_digest).rclone_path(rclone)])

    print(f"image of {human_bytes(size)} ({size} bytes) on {site.name}, {args.rounds} round(s)")
    print(f"{'first time (copy + verify)':32s} {median(first):8.2f} s   "
          f"({human_bytes(size / median(first))}/s; each: {', '.join(f'{t:.2f}' for t in first)})")
    print(f"{'cache hit (digest checked)':32s} {median(hits):8.2f} s   "
          f"(target < 1 s; each: {', '.join(f'{t:.2f}' for t in hits)})")
    print(json.dumps({"image_first_s": round(median(first), 2),
                      "image_cache_hit_s": round(median(hits), 3), "image_bytes": size}))


if __name__ == "__main__":
    main()
