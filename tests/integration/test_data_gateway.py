"""Users' files through the gateway and the SDK, against the test bed's real S3 server.

Every byte goes through presigned URLs: the tests check that no answer ever carries the
archive's own keys. Each module's organisations are new (tenants), so their buckets are too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from heroes.client import ApiError
from heroes.client import _data as sdk_data

pytestmark = pytest.mark.integration
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def archive_secret(testbed: dict[str, Any]) -> str:
    """The archive account's secret key. (Its access key id is in every presigned URL, as SigV4
    requires: it names the key, and proves nothing without the secret.)"""
    return str(testbed["s3"]["secret_key"])


@pytest.fixture(autouse=True)
def upload_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SDK remembers unfinished uploads here, not in the real home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "heroes" / "uploads"


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def no_secret(answer: Any, secret: str) -> None:
    assert secret not in json.dumps(answer)


def test_a_user_puts_lists_and_gets_a_multipart_file_through_presigned_urls(
        sdk: Any, tmp_path: Path, live_gateway: str, tenants: Any, archive_secret: str) -> None:
    alice = sdk("alice")
    source = random_file(tmp_path / "big.bin", 20 * MiB + 7)
    ticket = alice.call("POST", "/v1/data/uploads", json={
        "path": "home/peek.bin", "size": 10, "sha256": "0" * 64})
    no_secret(ticket, archive_secret)
    assert ticket["parts"] and "X-Amz-Signature" in ticket["parts"][0]["url"]
    alice.call("DELETE", f"/v1/data/uploads/{ticket['upload_id']}", params={"path": "home/peek.bin"})

    stored = alice.data.put(source, "home/inputs/big.bin")
    assert stored.size == source.stat().st_size
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert [item.path for item in alice.data.ls("home/inputs/")] == ["home/inputs/big.bin"]
    download = alice.call("GET", "/v1/data/file", params={"path": "home/inputs/big.bin"})
    no_secret(download, archive_secret)

    fetched = alice.data.get("home/inputs/big.bin", tmp_path / "back.bin")
    assert fetched.read_bytes() == source.read_bytes()
    assert not (tmp_path / "back.bin.part").exists()


def test_a_cut_upload_is_resumed_sending_only_the_missing_parts(
        sdk: Any, tmp_path: Path, upload_state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = sdk("alice")
    source = random_file(tmp_path / "cut.bin", 3 * 8 * MiB + 100)  # four parts
    sent: list[int] = []
    real_send = sdk_data._send

    def cut_after_two(http: httpx.Client, src: Path, part_size: int, path: str, part: Any) -> Any:
        if len(sent) >= 2:
            raise httpx.ConnectError("link dropped")
        sent.append(part.number)
        return real_send(http, src, part_size, path, part)

    alice.data.parallel = 1
    monkeypatch.setattr(sdk_data, "_send", cut_after_two)
    with pytest.raises(httpx.ConnectError):
        alice.data.put(source, "home/cut.bin")
    assert list(upload_state.iterdir()), "the unfinished upload is remembered"
    assert alice.data.ls("home/cut.bin") == [], "no partial object is visible"

    resumed: list[int] = []

    def counting(http: httpx.Client, src: Path, part_size: int, path: str, part: Any) -> Any:
        resumed.append(part.number)
        return real_send(http, src, part_size, path, part)

    monkeypatch.setattr(sdk_data, "_send", counting)
    stored = alice.data.put(source, "home/cut.bin")
    assert sorted(resumed) == [3, 4] and sorted(sent) == [1, 2]
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert not list(upload_state.iterdir()), "a completed upload is forgotten"


def test_parts_that_differ_from_what_was_sent_are_never_completed(sdk: Any, tmp_path: Path) -> None:
    alice = sdk("alice")
    data = os.urandom(1000)
    ticket = alice.call("POST", "/v1/data/uploads", json={
        "path": "home/bad.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert httpx.put(ticket["parts"][0]["url"], content=data).status_code == 200
    with pytest.raises(ApiError) as refused:
        alice.call("POST", f"/v1/data/uploads/{ticket['upload_id']}/complete",
                   json={"path": "home/bad.bin", "size": len(data), "parts": {"1": "0" * 32}})
    assert refused.value.status == 422 and "part(s) 1" in refused.value.detail
    assert alice.data.ls("home/bad.bin") == []


def test_a_download_whose_bytes_changed_in_the_archive_is_refused_and_removed(
        sdk: Any, tmp_path: Path, tenants: Any) -> None:
    from heroes.blocks import CentralArchive

    alice = sdk("alice")
    source = random_file(tmp_path / "orig.bin", 5000)
    alice.data.put(source, "home/tampered.bin")
    block = CentralArchive.load("heroes-archive")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    block.s3_client().put_object(Bucket=block.endpoint().bucket_for(tenants.organisations["acme"]),
                                 Key="alice/tampered.bin", Body=b"x" * 5000, Metadata={"sha256": sha})
    with pytest.raises(OSError, match="does not match the archive's checksum"):
        alice.data.get("home/tampered.bin", tmp_path / "got.bin")
    assert not (tmp_path / "got.bin").exists() and not (tmp_path / "got.bin.part").exists()


@pytest.mark.parametrize(("user", "path", "status"), [
    ("alice", "home/", 200),
    ("alice", "projects/p1/", 200),
    ("alice", "projects/p2/", 403),  # not her project
    ("carol", "projects/p1/", 403),  # workflow admin in no project
    ("bill", "home/", 403),  # billing admins have no data access
    ("pam", "projects/p2/", 200),  # project admins manage every project's data
    ("pam", "home/", 403),
    ("bob", "projects/p1/", 200),  # umbrella's own p1, never acme's
    ("alice", "home/../_heroes/", 422),
    ("alice", "_heroes/", 422),
    ("alice", "alice/", 422),
])
def test_each_area_follows_the_actions_table(sdk: Any, user: str, path: str, status: int) -> None:
    caller = sdk(user)
    try:
        caller.data.ls(path)
        answered = 200
    except ApiError as error:
        answered = error.status
    assert answered == status


def test_another_organisation_never_sees_a_project_area_of_the_same_name(sdk: Any, tmp_path: Path) -> None:
    alice, bob = sdk("alice"), sdk("bob")
    alice.data.put(random_file(tmp_path / "acme.txt", 10), "projects/p1/acme-only.txt")
    assert alice.data.ls("projects/p1/acme-only.txt")
    assert bob.data.ls("projects/p1/") == []


def test_an_upload_past_a_quota_is_refused_with_the_numbers(sdk: Any, tmp_path: Path,
                                                            tenants: Any) -> None:
    pam, alice = sdk("pam"), sdk("alice")
    organisation = tenants.organisations["acme"]
    with pytest.raises(ApiError) as refused:
        alice.call("PUT", "/v1/data/quotas", json={"organisation": organisation, "scope": "user",
                                                    "name": "alice", "limit_bytes": 10 ** 12})
    assert refused.value.status == 403
    pam.call("PUT", "/v1/data/quotas", json={"organisation": organisation, "scope": "project", "name": "p1",
                                             "limit_bytes": MiB})
    try:
        with pytest.raises(ApiError) as over:
            alice.data.put(random_file(tmp_path / "two.bin", 2 * MiB), "projects/p1/two.bin")
        assert over.value.status == 413
        assert "2.0 MiB" in over.value.detail and "1.0 MiB" in over.value.detail
        assert f"project {organisation}/p1's quota on the archive" in over.value.detail
        assert alice.data.ls("projects/p1/two.bin") == []
        alice.data.put(random_file(tmp_path / "small.bin", 1000), "home/small.bin")  # homes are not p1's
    finally:
        pam.call("PUT", "/v1/data/quotas", json={"organisation": organisation, "scope": "project",
                                                 "name": "p1", "limit_bytes": 10 ** 15})


def test_files_move_across_areas_and_are_deleted(sdk: Any, tmp_path: Path) -> None:
    alice = sdk("alice")
    alice.data.put(random_file(tmp_path / "a.txt", 123), "home/mv/a.txt")
    alice.data.put(random_file(tmp_path / "b.txt", 456), "home/mv/sub/b.txt")
    moved = alice.data.mv("home/mv/", "projects/p1/moved/")
    assert sorted(item.path for item in moved) == ["projects/p1/moved/a.txt", "projects/p1/moved/sub/b.txt"]
    assert alice.data.ls("home/mv/") == []
    assert sorted(alice.data.rm("projects/p1/moved/")) == ["projects/p1/moved/a.txt",
                                                          "projects/p1/moved/sub/b.txt"]
    with pytest.raises(ApiError) as missing:
        alice.data.rm("projects/p1/moved/")
    assert missing.value.status == 404
