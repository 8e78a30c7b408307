"""Applications through the gateway and the SDK: register, push images as versions, read them back.

Real S3 (the test bed's) and the test bed's PostgreSQL catalogue; each module's organisations
and application names are new.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from heroes.client import ApiError

pytestmark = pytest.mark.integration
SCHEMA = {"type": "object", "properties": {"steps": {"type": "integer", "minimum": 1}},
          "required": ["steps"], "additionalProperties": False}


@pytest.fixture
def app_name() -> str:
    return f"solver-{uuid.uuid4().hex[:8]}"


def image(tmp_path: Path, size: int = 9 * 1024 * 1024) -> Path:
    path = tmp_path / f"img-{uuid.uuid4().hex[:6]}.sqfs"
    path.write_bytes(os.urandom(size))
    return path


def test_a_packager_registers_an_application_and_pushes_verified_versions(
        sdk: Any, tmp_path: Path, app_name: str, tenants: Any) -> None:
    paco = sdk("paco")
    made = paco.apps.register(app_name, parameter_schema=SCHEMA, description="a solver")
    assert made.organisation == tenants.organisations["acme"] and made.owner == "paco"
    first = image(tmp_path)
    version = paco.apps.push(app_name, "1.0", first, tags=["stable"])
    assert version.digest == "sha256:" + hashlib.sha256(first.read_bytes()).hexdigest()
    assert version.archive_key == f"_heroes/images/sha256/{version.digest[7:]}"
    assert version.size_bytes == first.stat().st_size and version.tags == ("stable",)
    assert paco.apps.show(app_name, "stable").version == "1.0"
    with pytest.raises(ApiError, match=r"already has version '1\.0'"):
        paco.apps.push(app_name, "1.0", image(tmp_path, 1000))
    with pytest.raises(ApiError, match=r"is already version '1\.0'"):
        paco.apps.push(app_name, "1.1", first)
    listed = next(a for a in paco.apps.ls() if a.name == app_name)
    assert [v.version for v in listed.versions] == ["1.0"], "nothing was added by the refused pushes"


def test_an_image_whose_bytes_are_not_its_digest_never_becomes_a_version(
        sdk: Any, tmp_path: Path, app_name: str) -> None:
    paco = sdk("paco")
    paco.apps.register(app_name, parameter_schema=SCHEMA)
    data = os.urandom(2000)
    claimed = hashlib.sha256(b"something else").hexdigest()
    started = paco.call("POST", f"/v1/apps/{app_name}/2.0/push", json={"size": len(data), "sha256": claimed})
    ticket = started["upload"]
    assert httpx.put(ticket["parts"][0]["url"], content=data).status_code == 200
    with pytest.raises(ApiError) as refused:
        paco.call("POST", f"/v1/apps/{app_name}/2.0/complete", json={
            "size": len(data), "sha256": claimed, "upload_id": ticket["upload_id"],
            "parts": {"1": hashlib.md5(data).hexdigest()}})
    assert refused.value.status == 422 and "hashes to sha256:" in refused.value.detail
    with pytest.raises(ApiError) as missing:
        paco.apps.show(app_name, "2.0")
    assert missing.value.status in (404, 422)


def test_an_image_already_in_a_users_area_is_registered_by_copy(sdk: Any, tmp_path: Path,
                                                                app_name: str) -> None:
    paco = sdk("paco")
    paco.apps.register(app_name, parameter_schema=SCHEMA)
    source = image(tmp_path, 3000)
    paco.data.put(source, "projects/p1/images/solver.sqfs")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    with pytest.raises(ApiError, match="hashes to"):
        paco.apps.register_image(app_name, "3.0", "projects/p1/images/solver.sqfs", sha256="1" * 64)
    version = paco.apps.register_image(app_name, "3.0", "projects/p1/images/solver.sqfs", sha256=sha)
    assert version.digest == f"sha256:{sha}"


def test_only_packagers_register_and_other_organisations_see_nothing(sdk: Any, tmp_path: Path,
                                                                    app_name: str) -> None:
    with pytest.raises(ApiError) as refused:
        sdk("alice").apps.register(app_name, parameter_schema=SCHEMA)
    assert refused.value.status == 403 and "package-application" in refused.value.detail
    paco = sdk("paco")
    paco.apps.register(app_name, parameter_schema=SCHEMA)
    paco.apps.push(app_name, "1.0", image(tmp_path, 1000))
    bob = sdk("bob")
    assert all(a.name != app_name for a in bob.apps.ls())
    with pytest.raises(ApiError) as hidden:
        bob.apps.show(app_name, "1.0")
    assert hidden.value.status == 404
    with pytest.raises(ApiError) as foreign:
        bob.apps.push(app_name, "9.0", image(tmp_path, 1000))
    assert foreign.value.status == 403
    assert any(a.name == app_name for a in sdk("alice").apps.ls()), "the owner organisation sees it"
