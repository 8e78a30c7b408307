"""Applications from Python: register one, push its images as versions, read the catalogue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heroes.client._data import Progress, file_digest, part_md5s, send_parts
from heroes_core.catalog import ApplicationVersion, RegisteredApplication
from heroes_core.data.archive import UploadTicket

if TYPE_CHECKING:
    from heroes.client._api import HeroesClient


class AppsClient:
    """``heroes app`` as Python."""

    def __init__(self, client: HeroesClient, *, parallel: int = 4) -> None:
        self.client = client
        self.parallel = parallel

    def ls(self) -> list[RegisteredApplication]:
        return [RegisteredApplication.model_validate(item) for item in self.client.call("GET", "/v1/apps")]

    def show(self, name: str, version: str) -> ApplicationVersion:
        return ApplicationVersion.model_validate(self.client.call("GET", f"/v1/apps/{name}/{version}"))

    def register(self, name: str, *, parameter_schema: Mapping[str, Any], command: Sequence[str] = (),
                 description: str = "", metadata: Mapping[str, Any] | None = None) -> RegisteredApplication:
        return RegisteredApplication.model_validate(self.client.call("POST", "/v1/apps", json={
            "name": name, "description": description, "metadata": dict(metadata or {}),
            "parameter_schema": dict(parameter_schema), "command": list(command)}))

    def push(self, name: str, version: str, image: str | Path, *, tags: Sequence[str] = (),
             progress: Progress | None = None) -> ApplicationVersion:
        """Upload ``image`` as ``version`` of ``name``; only its digest, checked by the archive's bytes,
        makes it a version. An image the archive holds already is not sent again."""
        source = Path(image)
        if not source.is_file():
            raise FileNotFoundError(f"{source} is not a file")
        size, sha256 = source.stat().st_size, file_digest(source)
        body = {"size": size, "sha256": sha256}
        started = self.client.call("POST", f"/v1/apps/{name}/{version}/push", json=body)["upload"]
        upload_id, md5s = None, {}
        if started is not None:
            ticket, sent = send_parts(
                source, UploadTicket.model_validate(started), f"{name} {version}", parallel=self.parallel,
                progress=progress, resume=lambda upload_id: UploadTicket.model_validate(self.client.call(
                    "POST", f"/v1/apps/{name}/{version}/push/{upload_id}/resume", json=body)))
            upload_id, md5s = ticket.upload_id, part_md5s(source, ticket, sent)
        return ApplicationVersion.model_validate(self.client.call(
            "POST", f"/v1/apps/{name}/{version}/complete",
            json={**body, "upload_id": upload_id, "parts": md5s, "tags": list(tags)}))

    def register_image(self, name: str, version: str, source: str, *, sha256: str,
                       tags: Sequence[str] = ()) -> ApplicationVersion:
        """Make a file already in one of your areas (``home/...``) a version of ``name``."""
        return ApplicationVersion.model_validate(self.client.call(
            "POST", f"/v1/apps/{name}/{version}/register",
            json={"source": source, "sha256": sha256, "tags": list(tags)}))
