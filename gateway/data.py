"""The data routes (``/v1/data``): users' files in the archive, through presigned URLs only.

The gateway never carries file bytes and never hands out the archive's keys: it checks the
caller's area and quotas and answers with short-lived URLs the archive itself honours
(:mod:`heroes_core.data.archive`). ``heroes data put|get|ls|rm|mv`` and
:class:`heroes.client.HeroesClient` drive these routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from heroes.gateway.api import Caller
from heroes_core.data.archive import MAX_OBJECT, ArchiveObject, Download, UploadTicket
from heroes_core.data.quotas import Quota
from heroes_core.data.service import AreaView, DataService

_PATH_FIELD = Field(min_length=1, max_length=1024, description="home/<file> or projects/<project>/<file>.")
ArchivePathText = Annotated[str, Query(min_length=1, max_length=1024,
                                       description="home/... or projects/<project>/...")]
UploadId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._~+=-]{1,512}$")]


class UploadRequest(BaseModel):
    path: str = _PATH_FIELD
    size: int = Field(ge=0, le=MAX_OBJECT, description="Bytes the file holds.")
    sha256: str = Field(min_length=64, max_length=71, description="The file's hex sha256.")


class ResumeRequest(BaseModel):
    path: str = _PATH_FIELD
    size: int = Field(ge=0, le=MAX_OBJECT)


class CompleteRequest(BaseModel):
    path: str = _PATH_FIELD
    size: int = Field(ge=0, le=MAX_OBJECT)
    parts: dict[int, Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")]] = Field(
        description="Part number -> hex MD5 of the bytes the client sent for it.")


class MoveRequest(BaseModel):
    source: str = _PATH_FIELD
    destination: str = _PATH_FIELD


class Deleted(BaseModel):
    deleted: list[str]


def data_router(service: DataService) -> APIRouter:
    """The ``/v1/data`` routes over ``service``."""
    router = APIRouter(prefix="/v1/data", tags=["data"])

    @router.get("/areas", summary="The caller's areas (home, projects), their usage and quotas")
    def areas(identity: Caller) -> list[AreaView]:
        return service.areas(identity)

    @router.get("/files", summary="Files at or below a path")
    def files(path: ArchivePathText, identity: Caller) -> list[ArchiveObject]:
        return service.files(identity, path)

    @router.get("/file", summary="A presigned download URL for one file")
    def file(path: ArchivePathText, identity: Caller) -> Download:
        return service.download(identity, path)

    @router.delete("/files", summary="Delete a file, or a folder (path ending in /) and all below it")
    def delete(path: ArchivePathText, identity: Caller) -> Deleted:
        return Deleted(deleted=service.remove(identity, path))

    @router.post("/move", summary="Move a file or folder (across areas too, within quotas)")
    def move(request: MoveRequest, identity: Caller) -> list[ArchiveObject]:
        return service.move(identity, request.source, request.destination)

    @router.post("/uploads", status_code=201, summary="Start an upload: presigned URLs for its parts")
    def start(request: UploadRequest, identity: Caller) -> UploadTicket:
        return service.start_upload(identity, request.path, size=request.size, sha256=request.sha256)

    @router.post("/uploads/{upload_id}/resume", summary="Fresh URLs for the parts not received yet")
    def resume(upload_id: UploadId, request: ResumeRequest, identity: Caller) -> UploadTicket:
        return service.resume_upload(identity, request.path, upload_id, size=request.size)

    @router.post("/uploads/{upload_id}/complete", summary="Check every part's MD5, then complete")
    def complete(upload_id: UploadId, request: CompleteRequest, identity: Caller) -> ArchiveObject:
        return service.complete_upload(identity, request.path, upload_id, size=request.size,
                                       md5s=request.parts)

    @router.delete("/uploads/{upload_id}", status_code=204, summary="Abandon an upload")
    def abort(upload_id: UploadId, path: ArchivePathText, identity: Caller) -> Response:
        service.abort_upload(identity, path, upload_id)
        return Response(status_code=204)

    @router.get("/quotas", summary="Your organisation's quotas (manage data access)")
    def quotas(identity: Caller) -> list[Quota]:
        return service.quotas(identity)

    @router.put("/quotas", summary="Set a quota of your organisation (manage data access)")
    def set_quota(quota: Quota, identity: Caller) -> Quota:
        return service.set_quota(identity, quota)

    return router


__all__ = ["CompleteRequest", "Deleted", "MoveRequest", "ResumeRequest", "UploadRequest", "data_router"]
