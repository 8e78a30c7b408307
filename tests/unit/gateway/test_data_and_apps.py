"""The gateway's data and application routes over an in-process S3 (moto) and SQLite: who may do
what, the refusals' statuses and words, and that uploads complete only with the bytes sent."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from heroes.gateway import create_app
from heroes_core.catalog import ApplicationCatalogue
from heroes_core.catalog.service import ApplicationService
from heroes_core.data import Archive, DataService, Quotas, S3Endpoint
from heroes_core.identity import TokenVerifier
from heroes_core.store import Database

from .conftest import GRANT_KEY, KEYCLOAK, PUBLIC_URL, SETTINGS, FakePrefect, Minter

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def gateway(s3: str, tmp_path: Path, prefect: FakePrefect, verifier: TokenVerifier) -> Iterator[TestClient]:
    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    archive = Archive(S3Endpoint(endpoint_url=s3, access_key_id="key-id", secret_access_key="s3-secret",
                                 bucket_template=f"t{os.urandom(4).hex()}-{{organisation}}"))
    data = DataService(archive, Quotas(database))
    apps = ApplicationService(ApplicationCatalogue(database), archive, data)
    app = create_app(SETTINGS, keycloak=KEYCLOAK, verifier=verifier, grant_key=GRANT_KEY, data=data, apps=apps,
                     upstream_transport=httpx.MockTransport(prefect.handle))
    with TestClient(app, base_url=PUBLIC_URL) as client:
        yield client
    database.dispose()


def upload(gateway: TestClient, headers: dict[str, str], path: str, body: bytes,
           md5: str | None = None) -> httpx.Response:
    started = gateway.post("/v1/data/uploads", headers=headers,
                           json={"path": path, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    assert started.status_code == 201, started.text
    ticket = started.json()
    assert "s3-secret" not in started.text
    assert httpx.put(ticket["parts"][0]["url"], content=body).status_code == 200
    return gateway.post(f"/v1/data/uploads/{ticket['upload_id']}/complete", headers=headers, json={
        "path": path, "size": len(body), "parts": {"1": md5 or hashlib.md5(body).hexdigest()}})


def test_data_routes_answer_nobody_without_a_token(gateway: TestClient) -> None:
    assert gateway.get("/v1/data/files", params={"path": "home/"}).status_code == 401
    assert gateway.post("/v1/apps", json={}).status_code == 401


def test_a_file_goes_up_and_comes_down_through_presigned_urls(gateway: TestClient, tokens: Minter) -> None:
    alice = tokens.headers("alice", projects=("cfd",))
    done = upload(gateway, alice, "home/a.txt", b"hello")
    assert done.status_code == 200 and done.json()["sha256"] == hashlib.sha256(b"hello").hexdigest()
    listed = gateway.get("/v1/data/files", headers=alice, params={"path": "home/"}).json()
    assert [item["path"] for item in listed] == ["home/a.txt"]
    download = gateway.get("/v1/data/file", headers=alice, params={"path": "home/a.txt"}).json()
    assert httpx.get(download["url"]).content == b"hello" and download["md5"] is None  # multipart ETag


def test_an_upload_whose_part_differs_is_not_completed(gateway: TestClient, tokens: Minter) -> None:
    alice = tokens.headers("alice")
    refused = upload(gateway, alice, "home/b.txt", b"bytes", md5="0" * 32)
    assert refused.status_code == 422 and "part(s) 1" in refused.json()["detail"]
    assert gateway.get("/v1/data/files", headers=alice, params={"path": "home/b.txt"}).json() == []


@pytest.mark.parametrize(("path", "status"), [("home/../x", 422), ("_heroes/x", 422), ("projects/other/x", 403),
                                              ("home/missing.txt", 404)])
def test_paths_out_of_reach_or_missing_get_their_own_status(gateway: TestClient, tokens: Minter, path: str,
                                                            status: int) -> None:
    answer = gateway.get("/v1/data/file", headers=tokens.headers("alice", projects=("cfd",)),
                         params={"path": path})
    assert answer.status_code == status, answer.text


def test_quotas_are_set_by_project_admins_and_refuse_with_the_numbers(gateway: TestClient,
                                                                      tokens: Minter) -> None:
    quota = {"organisation": "acme", "scope": "user", "name": "alice", "limit_bytes": 10}
    assert gateway.put("/v1/data/quotas", headers=tokens.headers("alice"), json=quota).status_code == 403
    admin = tokens.headers("pam", roles=("project-admin",))
    assert gateway.put("/v1/data/quotas", headers=admin, json=quota).status_code == 200
    assert gateway.put("/v1/data/quotas", headers=admin, json={**quota, "organisation": "globex"}).status_code \
        == 403
    over = gateway.post("/v1/data/uploads", headers=tokens.headers("alice"),
                        json={"path": "home/big.bin", "size": 11, "sha256": "0" * 64})
    assert over.status_code == 413
    assert "11 B" in over.json()["detail"] and "0 B of 10 B used" in over.json()["detail"]


def test_an_image_becomes_a_version_only_if_the_archives_bytes_have_its_digest(gateway: TestClient,
                                                                               tokens: Minter) -> None:
    packager = tokens.headers("paco", roles=("application-packager",))
    assert gateway.post("/v1/apps", headers=tokens.headers("alice"),
                        json={"name": "solver", "parameter_schema": SCHEMA}).status_code == 403
    assert gateway.post("/v1/apps", headers=packager, json={
        "name": "solver", "parameter_schema": SCHEMA, "command": ["solve", "{n}"]}).status_code == 201
    image = os.urandom(3000)
    for claimed, status in ((hashlib.sha256(b"other").hexdigest(), 422), (hashlib.sha256(image).hexdigest(), 201)):
        body = {"size": len(image), "sha256": claimed}
        ticket = gateway.post("/v1/apps/solver/1.0/push", headers=packager, json=body).json()["upload"]
        assert httpx.put(ticket["parts"][0]["url"], content=image).status_code == 200
        done = gateway.post("/v1/apps/solver/1.0/complete", headers=packager, json={
            **body, "upload_id": ticket["upload_id"], "parts": {"1": hashlib.md5(image).hexdigest()}})
        assert done.status_code == status, done.text
    version: dict[str, Any] = done.json()
    assert version["digest"] == f"sha256:{hashlib.sha256(image).hexdigest()}"
    assert gateway.get("/v1/apps/solver/1.0", headers=tokens.headers("bob", "globex")).status_code == 404
    again = gateway.post("/v1/apps/solver/1.1/push", headers=packager,
                         json={"size": len(image), "sha256": hashlib.sha256(image).hexdigest()})
    assert again.status_code == 422 and "is already version '1.0'" in again.json()["detail"]
