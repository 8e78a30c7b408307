"""What a user may do with their data, checked: the one place the gateway's data routes call.

Every operation takes the verified caller and a path as they wrote it; the path is parsed
into an area (:mod:`heroes_core.data.areas`), the area checked against the actions table,
and a write checked against every quota that covers it, before the archive is touched.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from heroes_core.data.archive import Archive, ArchiveObject, Download, UploadTicket
from heroes_core.data.areas import ArchivePath, Area, AreaKind, areas_of, parse_path, require_access
from heroes_core.data.quotas import ARCHIVE_PLACE, Holder, Quota, Quotas, QuotaScope
from heroes_core.errors import SpecError
from heroes_core.identity import Action, Identity, Resource, ResourceKind, require


class AreaView(BaseModel):
    path: str = Field(description="How to write the area: home/ or projects/<project>/.")
    kind: str
    used_bytes: int
    quotas: list[Quota]


def holder_of(area: Area) -> Holder:
    return Holder(organisation=area.organisation,
                  project=area.name if area.kind is AreaKind.PROJECT else None,
                  user=area.name if area.kind is AreaKind.HOME else None)


class DataService:
    """Users' data in the archive, each call for one verified caller."""

    def __init__(self, archive: Archive, quotas: Quotas) -> None:
        self.archive = archive
        self.quotas_store = quotas
        self._made: set[Area] = set()  # areas known to exist, so a write checks them once

    def path(self, identity: Identity, text: str) -> ArchivePath:
        """``text`` as an archive path the caller may reach (refused otherwise)."""
        path = parse_path(text, identity)
        require_access(identity, path.area)
        return path

    def areas(self, identity: Identity) -> list[AreaView]:
        return [AreaView(path=area.label, kind=area.kind.value, used_bytes=self.archive.usage(area),
                         quotas=self.quotas_store.covering(holder_of(area), ARCHIVE_PLACE))
                for area in areas_of(identity)]

    def files(self, identity: Identity, text: str) -> list[ArchiveObject]:
        return self.archive.files(self.path(identity, text))

    def stat(self, identity: Identity, text: str) -> ArchiveObject:
        return self.archive.stat(self.path(identity, text))

    def download(self, identity: Identity, text: str) -> Download:
        return self.archive.download(self.path(identity, text))

    def start_upload(self, identity: Identity, text: str, *, size: int, sha256: str) -> UploadTicket:
        path = self.path(identity, text)
        replaced = self._size_if_present(path)
        self.check_quota(path.area, size - replaced, what=f"uploading {path}")
        self._ensure(path.area)
        return self.archive.start_upload(path, size=size, sha256=sha256)

    def resume_upload(self, identity: Identity, text: str, upload_id: str, *, size: int) -> UploadTicket:
        return self.archive.resume_upload(self.path(identity, text), upload_id, size=size)

    def complete_upload(self, identity: Identity, text: str, upload_id: str, *, size: int,
                        md5s: dict[int, str]) -> ArchiveObject:
        return self.archive.complete_upload(self.path(identity, text), upload_id, size=size, md5s=md5s)

    def abort_upload(self, identity: Identity, text: str, upload_id: str) -> None:
        self.archive.abort_upload(self.path(identity, text), upload_id)

    def remove(self, identity: Identity, text: str) -> list[str]:
        return self.archive.remove(self.path(identity, text))

    def move(self, identity: Identity, source_text: str, destination_text: str) -> list[ArchiveObject]:
        source = self.path(identity, source_text)
        destination = self.path(identity, destination_text)
        if source.key == destination.key and source.area == destination.area:
            raise SpecError(f"{source} and {destination} are the same place")
        if source.area != destination.area:
            moving = sum(item.size for item in self.archive.files(source))
            self.check_quota(destination.area, moving, what=f"moving {source} to {destination}")
        self._ensure(destination.area)
        return self.archive.move(source, destination)

    def quotas(self, identity: Identity) -> list[Quota]:
        """The caller's organisation's quotas (for those who manage its data access)."""
        require(identity, Action.MANAGE_DATA_ACCESS,
                Resource(kind=ResourceKind.DATA, organisation=identity.organisation))
        return self.quotas_store.of_organisation(identity.organisation)

    def set_quota(self, identity: Identity, quota: Quota) -> Quota:
        """Set one of the caller's organisation's quotas: managing data access, there and then."""
        project = quota.name if quota.scope is QuotaScope.PROJECT else None
        require(identity, Action.MANAGE_DATA_ACCESS,
                Resource(kind=ResourceKind.DATA, organisation=quota.organisation, project=project))
        return self.quotas_store.set(quota, by=identity.user)

    def check_quota(self, area: Area, adding: int, *, what: str) -> None:
        """Refuse adding ``adding`` bytes to ``area`` past its, its project's or organisation's quota."""
        if adding <= 0:
            return

        def used(quota: Quota) -> int:
            if quota.scope is QuotaScope.ORGANISATION:
                return sum(size for prefix, size in self.archive.bucket_usage(area.organisation).items()
                           if not prefix.startswith("_"))
            return self.archive.usage(area)

        self.quotas_store.check(holder_of(area), ARCHIVE_PLACE, adding, used, what=what)

    def _ensure(self, area: Area) -> None:
        """Areas are made with their organisation, project or user; an older one is made on first write."""
        if area not in self._made:
            self.archive.ensure_area(area)
            self._made.add(area)

    def _size_if_present(self, path: ArchivePath) -> int:
        """An upload over an existing file frees the old one's bytes."""
        found = self.archive.files(path)
        return found[0].size if found else 0
