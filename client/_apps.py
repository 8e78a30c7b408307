"""Applications from Python: register one, push its images as versions, read the catalogue, run a
version by name, publish it (after its functional test passes on the platform) and withdraw it.

Running, publishing and withdrawing are workflows (the ``run-application``, ``publish-application``
and ``unpublish-application`` deployments): each method launches one and returns its run, which
``client.runs.wait(run)`` follows to its end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heroes.client._data import Progress, file_digest, part_md5s, send_parts
from heroes.client._runs import PUBLISH_APPLICATION, RUN_APPLICATION, UNPUBLISH_APPLICATION, RunView
from heroes_core.catalog import ApplicationVersion, PublicationTarget, RegisteredApplication
from heroes_core.catalog.functional_test import FunctionalTest
from heroes_core.catalog.runs import AppJob
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

    def run(self, application: str, version: str = "latest", parameters: Mapping[str, Any] | None = None, *,
            centre: str | None = None, project: str | None = None, run_name: str | None = None,
            **job: Any) -> RunView:
        """Run ``version`` (or a tag) of ``application`` with ``parameters`` (checked against its schema
        by the run); ``job`` takes the job's other fields (``cores``, ``nodes``, ``memory_mb``,
        ``time_limit_minutes``, ``inputs``, ``partition``, ``output_limit_mb``, ``name``), checked
        here. ``centre``: the HPC Centre block to run on (default: the deployment's)."""
        spec = AppJob.model_validate({**job, "application": application, "version": version,
                                      "parameters": dict(parameters or {})})
        launched: dict[str, Any] = {"job": spec.model_dump(mode="json", exclude_unset=True)}
        if centre is not None:
            launched["centre"] = centre
        return self.client.runs.launch(RUN_APPLICATION, launched, project=project, name=run_name)

    def publish(self, name: str, version: str, *, targets: Sequence[PublicationTarget | Mapping[str, Any]],
                licence_terms: str, price_offering: str, test: FunctionalTest | Mapping[str, Any],
                centre: str | None = None, project: str | None = None,
                run_name: str | None = None, licence_seats: int | None = None) -> RunView:
        """Run ``version``'s functional ``test`` on the platform and, only if it passes, publish that
        exact image to ``targets`` under ``licence_terms``, its fee the price book's
        ``price_offering`` (of your organisation), at most ``licence_seats`` runs in one workflow at
        once (None: unlimited). The run ends COMPLETED once published."""
        chosen = [PublicationTarget.model_validate(target) for target in targets]
        if not chosen:
            raise ValueError("publish needs at least one target: PublicationTarget.of_project(...), "
                             ".of_organisation(...) or .everyone()")
        launched: dict[str, Any] = {
            "application": name, "version": version,
            "targets": [target.model_dump(mode="json", exclude_none=True) for target in chosen],
            "licence_terms": licence_terms, "price_offering": price_offering,
            "test": FunctionalTest.model_validate(test).model_dump(mode="json", exclude_unset=True)}
        if centre is not None:
            launched["centre"] = centre
        if licence_seats is not None:
            launched["licence_seats"] = licence_seats
        return self.client.runs.launch(PUBLISH_APPLICATION, launched, project=project, name=run_name)

    def unpublish(self, name: str, version: str, target: PublicationTarget | Mapping[str, Any], *,
                  project: str | None = None, run_name: str | None = None) -> RunView:
        """Stop offering ``version`` to ``target`` (runs already started finish)."""
        withdrawn = PublicationTarget.model_validate(target).model_dump(mode="json", exclude_none=True)
        return self.client.runs.launch(UNPUBLISH_APPLICATION, {
            "application": name, "version": version, "target": withdrawn}, project=project, name=run_name)
