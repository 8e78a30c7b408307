"""The ensure-image task: the transfer is recorded for the job it is for; only a link failure is
retried, never a wrong digest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prefect.logging import disable_run_logger
from prefect.states import Failed

from heroes.blocks import CentralArchive
from heroes.tasks import ensure_image
from heroes.tasks.images import _retry_transient
from heroes_core.catalog import ApplicationVersion
from heroes_core.catalog.image_cache import EnsuredImage, ImageCache
from heroes_core.data import RcloneError, Requester
from heroes_core.errors import CommandTimeoutError, ConnectionLostError, ImageError
from heroes_core.jobs import JobContext
from heroes_core.models import ImageRef
from heroes_core.sites import Site, SiteConfig, open_site

HEX = "ab" * 32
VERSION = ApplicationVersion(name="solver", version="1.0", digest=f"sha256:{HEX}",
                             archive_key=f"_heroes/images/sha256/{HEX}", size_bytes=10,
                             parameter_schema={}, registered_at=datetime.now(UTC),
                             registered_by="packager", tested_digest_ok=True)


class LocalCentre:
    """Stands for an HPC centre block: its site, on this machine."""

    def site(self) -> Site:
        return open_site(SiteConfig(name="hpc1", host="h", user="svc", work_root="/w",
                                    transport="local", image_roots=("/apps/images",)))


@pytest.mark.parametrize("error", [ConnectionLostError("link dropped", site="hpc1"),
                                   CommandTimeoutError("no answer", site="hpc1"),
                                   RcloneError("kept failing", site="hpc1", transient=True)])
def test_a_lost_link_is_retried(error: Exception) -> None:
    assert _retry_transient(None, None, Failed(data=error)) is True


@pytest.mark.parametrize("error", [ImageError("wrong digest", site="hpc1"),
                                   RcloneError("no such bucket", site="archive"), KeyError("x")])
def test_a_wrong_image_or_a_missing_object_fails_at_once(error: Exception) -> None:
    assert _retry_transient(None, None, Failed(data=error)) is False


def test_the_task_ensures_the_version_for_the_jobs_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(self: ImageCache, archive: Any, organisation: str, version: ApplicationVersion,
             **kwargs: Any) -> EnsuredImage:
        calls.append({"site": self.site.name, "bucket": archive.bucket_for(organisation),
                      "version": version, **kwargs})
        return EnsuredImage(image=ImageRef(path=self.path_of(version.digest), digest=version.digest),
                            hit=False, bytes_transferred=10, evicted=(f"sha256:{'cd' * 32}",))

    monkeypatch.setattr(ImageCache, "ensure_version", fake)
    centre = LocalCentre()
    archive = CentralArchive(endpoint_url="http://s3", access_key_id="k",
                             secret_access_key="s")  # type: ignore[arg-type]
    context = JobContext.for_run("run-1", organisation="umbrella", user="ada", site="hpc1",
                                 project="cfd")

    with disable_run_logger():
        image = ensure_image.fn(centre, archive, "acme", VERSION, context)  # type: ignore[arg-type]

    assert image == ImageRef(path=f"/apps/images/cache/sha256/{HEX}", digest=VERSION.digest)
    [call] = calls
    assert (call["bucket"], call["version"], call["log"]) == ("heroes-acme", VERSION, None)
    assert call["requester"] == Requester(organisation="umbrella", user="ada", project="cfd",
                                          job_key=context.key, flow_run_id="run-1")
