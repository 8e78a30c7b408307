"""Where a transfer starts or ends: the archive, a centre (or a cloud cluster's headnode) or a
local directory, each with a path that never climbs."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError

from heroes_core.data import (
    ArchiveLocation,
    LocalLocation,
    Location,
    Rclone,
    S3Endpoint,
    SFTPEndpoint,
    SFTPLocation,
)
from heroes_core.models import UserArea

ARCHIVE = S3Endpoint(endpoint_url="http://s3", access_key_id="k", secret_access_key=SecretStr("s"))


def centre(site: str) -> SFTPEndpoint:
    return SFTPEndpoint(site=site, host=f"login.{site}", user="svc", private_key=SecretStr("k"),
                        known_hosts=f"login.{site} ssh-ed25519 AAAA")


def test_each_location_names_its_site_and_its_rclone_path() -> None:
    rclone = Rclone()
    area = UserArea(organisation="acme", user="ann")
    home = ArchiveLocation.of_user(ARCHIVE, area)
    job = ArchiveLocation.of_job(ARCHIVE, area, "k1")
    hpc1 = SFTPLocation(server=centre("hpc1"), path="/scratch/job")
    hpc2 = SFTPLocation(server=centre("hpc2"), path="work/job")
    assert (home.site, home.label, home.rclone_path(rclone)) == (
        "archive", "s3://heroes-acme/ann/", "archive:heroes-acme/ann")
    assert job.path == "heroes-acme/ann/jobs/k1"
    assert (hpc1.site, hpc1.label, hpc1.rclone_path(rclone)) == (
        "hpc1", "hpc1:/scratch/job", "centre:/scratch/job")
    assert hpc2.rclone_path(rclone) == "centre2:work/job"  # centre to centre: two remotes
    assert LocalLocation(path="/data/x").rclone_path(rclone) == "/data/x"
    assert home.joinpath("inputs", "a.txt").path == "heroes-acme/ann/inputs/a.txt"


@pytest.mark.parametrize("make", [
    lambda: ArchiveLocation(archive=ARCHIVE, path="/bucket/x"),
    lambda: ArchiveLocation(archive=ARCHIVE, path="bucket/../other"),
    lambda: SFTPLocation(server=centre("hpc1"), path="/scratch/../etc"),
    lambda: SFTPLocation(server=centre("hpc1"), path="a\nb"),
    lambda: LocalLocation(path="relative/dir"),
    lambda: LocalLocation(path=""),
])
def test_paths_that_climb_or_are_malformed_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        make()


def test_joining_never_climbs() -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        LocalLocation(path="/data").joinpath("../etc")


def test_a_location_round_trips_through_json_by_its_kind() -> None:
    adapter: TypeAdapter[Location] = TypeAdapter(Location)
    for location in (ArchiveLocation(archive=ARCHIVE, path="b/p"),
                     SFTPLocation(server=centre("hpc1"), path="/x"), LocalLocation(path="/y")):
        assert adapter.validate_python(location.model_dump()) == location
