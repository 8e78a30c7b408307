"""The application routes (``/v1/apps``): register applications, push their images, read the catalogue.

Images go up like files (presigned multipart, never through the gateway) into the owning
organisation's ``_heroes/images/``; the gateway reads the archive's bytes back and checks
the digest before the catalogue gets the version (:mod:`heroes_core.catalog.service`).
``heroes app register|push|ls|show`` and ``HeroesClient.apps`` drive these routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from heroes.gateway.api import Caller
from heroes_core.catalog import ApplicationVersion, RegisteredApplication
from heroes_core.catalog.service import ApplicationService
from heroes_core.data.archive import MAX_OBJECT, UploadTicket

AppName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
VersionName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")]
UploadId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._~+=-]{1,512}$")]
Tag = Annotated[str, Field(max_length=64)]


class ApplicationRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=10_000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    parameter_schema: dict[str, Any] = Field(description="JSON Schema (draft 2020-12) of the parameters.")
    command: list[Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=list, max_length=256,
        description="The argv a run starts; '{name}' stands for parameter 'name'.")


class PushRequest(BaseModel):
    size: int = Field(gt=0, le=MAX_OBJECT)
    sha256: str = Field(min_length=64, max_length=71)


class PushStarted(BaseModel):
    """The upload to make, or none when the archive holds this image already."""

    upload: UploadTicket | None


class CompleteRequest(PushRequest):
    upload_id: str | None = Field(default=None, max_length=512)
    parts: dict[int, Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")]] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class RegisterImageRequest(BaseModel):
    source: str = Field(min_length=1, max_length=1024, description="home/... or projects/<p>/...")
    sha256: str = Field(min_length=64, max_length=71)
    tags: list[Tag] = Field(default_factory=list, max_length=20)


def apps_router(service: ApplicationService) -> APIRouter:
    """The ``/v1/apps`` routes over ``service``."""
    router = APIRouter(prefix="/v1/apps", tags=["applications"])

    @router.get("", summary="Applications you may see: your organisation's and those published to you")
    def applications(identity: Caller) -> list[RegisteredApplication]:
        return service.visible(identity)

    @router.post("", status_code=201, summary="Register an application (packagers, application providers)")
    def register(request: ApplicationRequest, identity: Caller) -> RegisteredApplication:
        return service.register(identity, request.name, parameter_schema=request.parameter_schema,
                                command=request.command, description=request.description,
                                metadata=request.metadata)

    @router.get("/{name}/{version}", summary="One version (or tag) you may run")
    def version(name: AppName, version: VersionName, identity: Caller) -> ApplicationVersion:
        return service.version(identity, name, version)

    @router.post("/{name}/{version}/push", status_code=201, summary="Start pushing a version's image")
    def push(name: AppName, version: VersionName, request: PushRequest, identity: Caller) -> PushStarted:
        return PushStarted(upload=service.start_push(identity, name, version, size=request.size,
                                                     sha256=request.sha256))

    @router.post("/{name}/{version}/push/{upload_id}/resume", summary="Fresh URLs for the missing parts")
    def resume(name: AppName, version: VersionName, upload_id: UploadId, request: PushRequest,
               identity: Caller) -> UploadTicket:
        return service.resume_push(identity, name, upload_id, size=request.size, sha256=request.sha256)

    @router.post("/{name}/{version}/complete", status_code=201,
                 summary="Complete the push, verify the image's digest, add the version")
    def complete(name: AppName, version: VersionName, request: CompleteRequest,
                 identity: Caller) -> ApplicationVersion:
        return service.complete_push(identity, name, version, sha256=request.sha256, size=request.size,
                                     upload_id=request.upload_id, md5s=request.parts, tags=request.tags)

    @router.post("/{name}/{version}/register", status_code=201,
                 summary="Make an image already in your area a version (copied, then verified)")
    def register_image(name: AppName, version: VersionName, request: RegisterImageRequest,
                       identity: Caller) -> ApplicationVersion:
        return service.register_image(identity, name, version, source=request.source, sha256=request.sha256,
                                      tags=request.tags)

    return router


__all__ = ["ApplicationRequest", "CompleteRequest", "PushRequest", "PushStarted", "RegisterImageRequest",
           "apps_router"]
