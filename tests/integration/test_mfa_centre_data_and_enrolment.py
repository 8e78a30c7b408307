"""A centre whose login node only admits an MFA login, against the real test bed: data staged in
and out and the runtime role run (check mode) through the shared OpenSSH master an admin opened,
with no key anywhere in HEROES' hands; and, with no master open, both stop at once with the fix
and nothing copied.

The centre is the test bed's ``local-slurm`` block switched to ``backend="openssh"``, ``mfa=True``
and an empty key. Its master is opened the way tests/integration/test_openssh_transport.py opens
one (with the service account's key, standing in for the admin's answers to the prompts), in a
private socket directory."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from heroes_core.data import (
    ArchiveLocation,
    RcloneError,
    Requester,
    SFTPEndpoint,
    SFTPLocation,
    TransferRequest,
    transfer,
)
from heroes_core.enrolment import RUNTIME_PLAYBOOK, DeploymentError, run_playbook
from heroes_core.sites import SiteConfig
from heroes_core.transport import CONTROL_DIR_ENV, MasterStatus, OpenSSHTransport
from tests.integration.openssh import openssh_config
from tests.integration.test_transfer import BUCKET, centre_md5, objects, upload


@pytest.fixture
def mfa_centre(blocks: dict[str, str], control_base: Path, monkeypatch: pytest.MonkeyPatch) -> SiteConfig:
    """The test bed's centre block as an MFA centre: OpenSSH backend, mfa, no key; its master's
    socket in ``control_base``."""
    from heroes.blocks import HPCCentre

    monkeypatch.setenv(CONTROL_DIR_ENV, str(control_base))
    config = HPCCentre.load("local-slurm").site_config()
    mfa: SiteConfig = config.model_copy(update={"backend": "openssh", "mfa": True,
                                                "private_key": SecretStr("")})
    mfa.ssh_config()  # the switched settings are valid ones
    return mfa


@pytest.fixture
def master(mfa_centre: SiteConfig, centre_info: dict[str, Any], control_base: Path) -> Iterator[MasterStatus]:
    """The centre's shared connection, open as `heroes centre connect` leaves it."""
    opener = OpenSSHTransport(openssh_config(centre_info), base_dir=control_base)
    status = opener.connect()
    yield status
    opener.disconnect()


def who(user: str) -> Requester:
    return Requester(organisation="itest", user=user, project="mfa")


def md5s(files: dict[str, bytes], prefix: str) -> dict[str, str]:
    return {name.removeprefix(prefix): hashlib.md5(body).hexdigest() for name, body in files.items()}


def keyless_endpoint(config: SiteConfig) -> SFTPEndpoint:
    server = SFTPEndpoint.of_site(config)
    assert server.shared_connection and server.private_key.get_secret_value() == ""  # no key for rclone
    return server


def test_data_stages_in_and_out_through_the_master_verified_with_no_key(
        archive, mfa_centre: SiteConfig, master: MasterStatus, site, user: str) -> None:  # type: ignore[no-untyped-def]
    files = {"data/a.txt": b"alpha\n", "data/sub/b.bin": os.urandom(1 << 20), "data/c.txt": b"c" * 1000}
    upload(archive, user, files)
    source = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/data")
    there = SFTPLocation(server=keyless_endpoint(mfa_centre), path=f"{mfa_centre.work_root}/itest-mfa-{user}")
    back = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/back")
    try:
        staged = transfer(TransferRequest(requester=who(user), source=source, destination=there))
        assert (staged.files_checked, staged.files_transferred, staged.attempts) == (3, 3, 1)
        assert staged.bytes_transferred == sum(map(len, files.values()))
        assert centre_md5(site, there.path) == md5s(files, "data/")  # read back over the key-based link
        again = transfer(TransferRequest(requester=who(user), source=source, destination=there))
        assert (again.files_checked, again.files_transferred) == (3, 0)  # checksums through the master agree

        home = transfer(TransferRequest(requester=who(user), source=there, destination=back))
        assert home.files_transferred == 3
        assert objects(archive, f"{user}/back/") == {name.removeprefix("data/"): body
                                                     for name, body in files.items()}
    finally:
        site.transport.run(["rm", "-rf", "--", there.path])
    assert OpenSSHTransport(mfa_centre.ssh_config()).status().pid == master.pid  # the one master served it all


def test_eighty_files_move_through_one_master_all_verified(
        archive, mfa_centre: SiteConfig, master: MasterStatus, site, user: str) -> None:  # type: ignore[no-untyped-def]
    """More files than one master has sessions: rclone keeps within them."""
    files = {f"many/f{index:02d}.dat": os.urandom(4096 + index) for index in range(80)}
    upload(archive, user, files)
    source = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/many")
    there = SFTPLocation(server=keyless_endpoint(mfa_centre), path=f"{mfa_centre.work_root}/itest-mfa80-{user}")
    try:
        report = transfer(TransferRequest(requester=who(user), source=source, destination=there))
        assert (report.files_checked, report.files_transferred, report.attempts) == (80, 80, 1)
        assert centre_md5(site, there.path) == md5s(files, "many/")
    finally:
        site.transport.run(["rm", "-rf", "--", there.path])


def test_the_runtime_role_runs_in_check_mode_through_the_master_with_no_key(
        mfa_centre: SiteConfig, master: MasterStatus) -> None:
    result = run_playbook(mfa_centre, RUNTIME_PLAYBOOK, check=True)
    assert result.check and result.ok, (result.failures, result.stdout_tail)
    assert OpenSSHTransport(mfa_centre.ssh_config()).status().pid == master.pid


def test_without_a_master_nothing_moves_either_way_and_enrolment_stops_with_the_fix(
        archive, mfa_centre: SiteConfig, site, user: str) -> None:  # type: ignore[no-untyped-def]
    assert not OpenSSHTransport(mfa_centre.ssh_config()).status().open
    upload(archive, user, {"data/a.txt": b"alpha\n"})
    source = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/data")
    there = SFTPLocation(server=keyless_endpoint(mfa_centre), path=f"{mfa_centre.work_root}/itest-mfa0-{user}")
    back = ArchiveLocation(archive=archive.endpoint(), path=f"{BUCKET}/{user}/back")
    for request in (TransferRequest(requester=who(user), source=source, destination=there),
                    TransferRequest(requester=who(user), source=there, destination=back)):
        pauses: list[float] = []
        with pytest.raises(RcloneError) as failed:
            transfer(request, sleep=pauses.append)
        error = failed.value
        assert error.site == "local-slurm" and not error.transient and pauses == []  # not retried
        assert "no shared SSH connection to" in error.detail
        assert error.fix is not None and "heroes centre connect local-slurm" in error.fix
    assert site.transport.run(["test", "-e", there.path]).exit_code == 1  # nothing reached the centre
    assert objects(archive, f"{user}/back/") == {}  # nor came back
    with pytest.raises(DeploymentError, match=r"^\[local-slurm\] no shared SSH connection to .* is open.*"
                                              r"`heroes centre connect local-slurm`"):
        run_playbook(mfa_centre, RUNTIME_PLAYBOOK, check=True)
