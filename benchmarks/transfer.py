"""Archive -> centre transfers: HEROES' `transfer` against plain `rclone copy`, in the same run.

Two data sets are put in the test bed's archive: one large file (1 GiB) and many small ones
(10,000 x 10 KiB). In each round a data set is copied to the centre twice, back to back, into
fresh directories: once with plain `rclone copy` and rclone's default flags (the same remotes),
once with HEROES' transfer (check, copy what differs, verify by checksum); which goes first
alternates. Then the HEROES transfer runs again over the unchanged data: it must copy 0 bytes.
Then ``--master-files`` small files (80) are staged to the centre by HEROES' transfer through a
shared OpenSSH master with no key (an MFA centre's way: rclone's SFTP through the system ssh,
its connections capped to the master's sessions) and, in the same rounds, the key-based way
(rclone's own SFTP client); which goes first alternates.
Everything written (archive objects, centre files, the local copy) is removed at the end.

Prints a table, then a final JSON line: ``large_vs_rclone`` and ``small_vs_rclone`` are HEROES'
throughput over plain rclone's, the median of the rounds' ratios, so that load from elsewhere
on a shared machine weighs on both alike (targets: >= 0.9 and >= 2); ``restage_bytes`` the
bytes the re-stages copied (target: 0); ``master_vs_key`` the throughput of the transfer through
the master over the key-based one (the median of the rounds'). ``--large-mib 64 --small-files 500
--rounds 1 --small-rounds 1 --master-rounds 1`` is a quick run.
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
from pathlib import Path

import boto3  # type: ignore[import-untyped]
from _testbed import median, open_centre, testbed
from pydantic import SecretStr

from heroes.client._data import part_md5s, send_parts
from heroes_core.data import (
    Archive,
    ArchiveLocation,
    ArchivePath,
    Area,
    LocalLocation,
    Rclone,
    RcloneError,
    Requester,
    S3Endpoint,
    SFTPEndpoint,
    SFTPLocation,
    TransferReport,
    TransferRequest,
    transfer,
)
from heroes_core.data.transfers import human_bytes
from heroes_core.sites import SiteConfig
from heroes_core.transport import CONTROL_DIR_ENV, OpenSSHTransport

WHO = Requester(organisation="bench", user="transfer")


def make_data(root: Path, *, large_mib: int, small_files: int, small_kib: int) -> dict[str, int]:
    """``large/`` and ``small/`` below ``root``; their sizes in bytes."""
    (root / "large").mkdir(parents=True)
    with open(root / "large" / "big.bin", "wb") as handle:
        for _ in range(large_mib):
            handle.write(os.urandom(1 << 20))
    small = root / "small"
    for index in range(small_files):
        sub = small / f"d{index // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index:05d}.dat").write_bytes(os.urandom(small_kib * 1024))
    return {"large": large_mib << 20, "small": small_files * small_kib * 1024}


def timed_plain(rclone: Rclone, source: ArchiveLocation, destination: SFTPLocation) -> float:
    started = time.perf_counter()
    rclone.run(["copy", source.rclone_path(rclone), destination.rclone_path(rclone)])
    return time.perf_counter() - started


def timed_heroes(rclone: Rclone, source: ArchiveLocation,
                 destination: SFTPLocation) -> tuple[float, TransferReport]:
    started = time.perf_counter()
    report = transfer(TransferRequest(requester=WHO, source=source, destination=destination),
                      rclone=rclone)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-mib", type=int, default=1024, help="size of the large file")
    parser.add_argument("--small-files", type=int, default=10_000, help="how many small files")
    parser.add_argument("--small-kib", type=int, default=10, help="size of each small file")
    parser.add_argument("--rounds", type=int, default=5,
                        help="copies of the large file per tool, alternating which goes first")
    parser.add_argument("--small-rounds", type=int, default=3,
                        help="copies of the small files per tool, alternating which goes first")
    parser.add_argument("--upload-rounds", type=int, default=3,
                        help="uploads of the large file each way (presigned, direct)")
    parser.add_argument("--master-files", type=int, default=80,
                        help="small files staged through a shared OpenSSH master and with the key")
    parser.add_argument("--master-rounds", type=int, default=3,
                        help="stagings of those files each way, alternating which goes first")
    args = parser.parse_args()

    s3 = testbed()["s3"]
    archive = S3Endpoint(endpoint_url=s3["endpoint"], access_key_id=s3["access_key"],
                         secret_access_key=s3["secret_key"], region=s3.get("region", "us-east-1"))
    site = open_centre()
    centre = SFTPEndpoint.of_site(site.config)
    rclone = Rclone(archive, centre)
    tag = f"bench-transfer-{uuid.uuid4().hex[:8]}"
    bucket = archive.bucket_for("bench")
    rclone.run(["mkdir", f"{rclone.remote(archive)}:{bucket}"])
    stored = ArchiveLocation(archive=archive, path=f"{bucket}/{tag}")
    landing = SFTPLocation(server=centre, path=f"{site.config.work_root}/{tag}")
    local = Path(tempfile.mkdtemp(prefix="heroes-bench-"))
    results: dict[str, Result] = {}
    try:
        sizes = make_data(local / "data", large_mib=args.large_mib, small_files=args.small_files,
                          small_kib=args.small_kib)
        sizes["master"] = make_files(local / "data" / "master", args.master_files, args.small_kib)
        uploads = compare_uploads(archive, local / "data" / "large" / "big.bin", args.upload_rounds)
        transfer(TransferRequest(requester=WHO, source=LocalLocation(path=str(local / "data")),
                                 destination=stored), rclone=rclone)
        shutil.rmtree(local / "data")
        for name, rounds in (("large", args.rounds), ("small", args.small_rounds)):
            results[name] = compare(rclone, stored.joinpath(name), landing, name, sizes[name], rounds)
        master = compare_master(rclone, site.config, stored.joinpath("master"), landing,
                                sizes["master"], args.master_rounds)
    finally:
        shutil.rmtree(local, ignore_errors=True)
        for written in (stored, landing):
            try:
                rclone.run(["purge", written.rclone_path(rclone)])
            except RcloneError as exc:
                if exc.exit_code != 3:  # 3: never made
                    print(f"could not remove {written.label}: {exc}")

    print(f"{'data set':22s} {'plain rclone':>14s} {'HEROES':>14s} {'HEROES/plain':>13s} {'re-stage':>9s}")
    for name, label in (("large", f"1 x {human_bytes(args.large_mib << 20)}"),
                        ("small", f"{args.small_files} x {human_bytes(args.small_kib * 1024)}")):
        found = results[name]
        print(f"{label:22s} {human_bytes(found.bytes / median(found.plain)) + '/s':>14s} "
              f"{human_bytes(found.bytes / median(found.heroes)) + '/s':>14s} "
              f"{found.ratio:12.2f}x {median(found.restage):7.2f} s")
        print(f"{'  seconds, each round':22s} {' '.join(f'{t:.1f}' for t in found.plain):>14s} "
              f"{' '.join(f'{t:.1f}' for t in found.heroes):>14s}")
    restage_bytes = sum(found.restage_bytes for found in results.values())
    print(f"re-staging unchanged data copied {restage_bytes} bytes (target 0); throughput ratios are "
          "the median of each round's (targets: large >= 0.9, small >= 2)")
    print(f"{args.master_files} x {human_bytes(args.small_kib * 1024)} to the centre: through the master "
          f"{' '.join(f'{t:.1f}' for t in master.heroes)} s, with the key "
          f"{' '.join(f'{t:.1f}' for t in master.plain)} s; master/key throughput {master.ratio:.2f}x")
    presigned_vs_direct = median([direct / presigned for presigned, direct in uploads])
    presigned_s = " ".join(f"{p:.1f}" for p, _ in uploads)
    direct_s = " ".join(f"{d:.1f}" for _, d in uploads)
    print(f"upload of 1 x {human_bytes(args.large_mib << 20)}: presigned {presigned_s} s, "
          f"direct {direct_s} s; presigned/direct throughput {presigned_vs_direct:.2f}x")
    print(json.dumps({
        "presigned_vs_direct": round(presigned_vs_direct, 2),
        "large_vs_rclone": round(results["large"].ratio, 2),
        "small_vs_rclone": round(results["small"].ratio, 2),
        "restage_bytes": restage_bytes,
        "master_vs_key": round(master.ratio, 2),
        "master_s": {"master": round(median(master.heroes), 2), "key": round(median(master.plain), 2)},
        "large_s": {"plain": round(median(results["large"].plain), 2),
                    "heroes": round(median(results["large"].heroes), 2)},
        "small_s": {"plain": round(median(results["small"].plain), 2),
                    "heroes": round(median(results["small"].heroes), 2)},
        "restage_s": {name: round(median(found.restage), 2) for name, found in results.items()}}))


class Result:
    def __init__(self, size: int) -> None:
        self.bytes = size
        self.plain: list[float] = []
        self.heroes: list[float] = []
        self.restage: list[float] = []
        self.restage_bytes = 0

    @property
    def ratio(self) -> float:
        """HEROES' throughput over plain rclone's: the median of the rounds' (each round's two
        copies ran back to back, under the same load)."""
        return median([plain / heroes for plain, heroes in zip(self.plain, self.heroes, strict=True)])


def compare(rclone: Rclone, source: ArchiveLocation, landing: SFTPLocation, name: str, size: int,
            rounds: int) -> Result:
    """``rounds`` copies of ``source`` by each tool into fresh directories, then a re-stage."""
    found = Result(size)
    for round_ in range(rounds):
        runs = [("plain", landing.joinpath("plain", f"{name}{round_}")),
                ("heroes", landing.joinpath("heroes", f"{name}{round_}"))]
        for tool, destination in runs if round_ % 2 == 0 else runs[::-1]:
            if tool == "plain":
                found.plain.append(timed_plain(rclone, source, destination))
                continue
            seconds, report = timed_heroes(rclone, source, destination)
            assert report.bytes_transferred == size, report
            found.heroes.append(seconds)
            seconds, report = timed_heroes(rclone, source, destination)
            found.restage.append(seconds)
            found.restage_bytes += report.bytes_transferred
        for _, destination in runs:  # keep the centre's disk (and page cache) as it was
            rclone.run(["purge", destination.rclone_path(rclone)])
    return found


def make_files(root: Path, count: int, kib: int) -> int:
    """``count`` files of ``kib`` KiB in ``root``; their size in bytes."""
    root.mkdir(parents=True)
    for index in range(count):
        (root / f"f{index:03d}.dat").write_bytes(os.urandom(kib * 1024))
    return count * kib * 1024


def compare_master(rclone: Rclone, config: SiteConfig, source: ArchiveLocation, landing: SFTPLocation,
                   size: int, rounds: int) -> Result:
    """HEROES' transfer of ``source`` through a shared OpenSSH master with no key (``heroes``)
    and with the key (``plain``, by ``rclone``), ``rounds`` times each into fresh directories."""
    control = Path(tempfile.mkdtemp(prefix="hb-", dir="/tmp"))
    os.environ[CONTROL_DIR_ENV] = str(control / "ssh")
    opener = OpenSSHTransport(config.model_copy(update={"backend": "openssh"}).ssh_config())
    opener.connect()  # what `heroes centre connect` does at an MFA centre's prompts
    mfa = config.model_copy(update={"backend": "openssh", "mfa": True, "private_key": SecretStr("")})
    through = SFTPLocation(server=SFTPEndpoint.of_site(mfa), path=landing.path)
    by_master = Rclone(source.archive, through.server)  # its own: the master's remote is gone after
    found = Result(size)
    try:
        for round_ in range(rounds):
            runs = [(by_master, through.joinpath("master", str(round_))),
                    (rclone, landing.joinpath("key", str(round_)))]
            for tool, destination in runs if round_ % 2 == 0 else runs[::-1]:
                seconds, report = timed_heroes(tool, source, destination)
                assert report.bytes_transferred == size, report
                (found.heroes if tool is by_master else found.plain).append(seconds)
            for tool, destination in runs:
                tool.run(["purge", destination.rclone_path(tool)])
    finally:
        opener.disconnect()
        del os.environ[CONTROL_DIR_ENV]
        shutil.rmtree(control, ignore_errors=True)
    return found


def compare_uploads(archive: S3Endpoint, local: Path, rounds: int) -> list[tuple[float, float]]:
    """(presigned seconds, direct seconds) per round, each round's order alternating."""
    store = Archive(archive)
    area = Area.home("bench", "uploader")
    store.ensure_area(area)
    bucket = archive.bucket_for("bench")
    size = local.stat().st_size
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    client = boto3.client("s3", endpoint_url=archive.endpoint_url, region_name=archive.region,
                          aws_access_key_id=archive.access_key_id,
                          aws_secret_access_key=archive.secret_access_key.get_secret_value())
    timings: list[tuple[float, float]] = []
    try:
        for index in range(rounds):
            path = ArchivePath(area=area, path=f"presigned-{index}.bin")

            def presigned(path: ArchivePath = path) -> float:
                started = time.perf_counter()
                ticket = store.start_upload(path, size=size, sha256=sha256)
                ticket, sent = send_parts(local, ticket, str(path), parallel=4, progress=None,
                                    resume=lambda upload_id: store.resume_upload(path, upload_id, size=size))
                store.complete_upload(path, ticket.upload_id, size=size, md5s=part_md5s(local, ticket, sent))
                return time.perf_counter() - started

            def direct(index: int = index) -> float:
                started = time.perf_counter()
                client.upload_file(str(local), bucket, f"uploader/direct-{index}.bin")
                return time.perf_counter() - started

            if index % 2:
                second = direct()
                timings.append((presigned(), second))
            else:
                first = presigned()
                timings.append((first, direct()))
    finally:
        store.remove(ArchivePath(area=area))
    return timings


if __name__ == "__main__":
    main()
