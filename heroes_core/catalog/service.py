"""What packagers and users may do with the catalogue, checked: the gateway's ``/v1/apps`` routes call it.

Images are pushed the way files are (presigned multipart, :mod:`heroes_core.data.archive`),
but into the owning organisation's ``_heroes/images/`` area, which no user path reaches, under
their digest: ``_heroes/images/sha256/<hex>``. After the upload completes the archive's bytes
are read back and hashed; only an image whose sha256 is the one declared becomes a version. A
mismatch deletes the object. So the catalogue never points at a missing, partial or altered
image, and the same image is stored once however many versions or pushes name it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from heroes_core.catalog.catalogue import ApplicationCatalogue
from heroes_core.catalog.models import ApplicationVersion, RegisteredApplication
from heroes_core.data import Archive, ArchiveObject, ArchivePath, Area, DataService, UploadTicket
from heroes_core.errors import ChecksumMismatchError, NotInArchiveError, SpecError
from heroes_core.identity import Action, Identity, Resource, ResourceKind, require
from heroes_core.models import DIGEST_PATTERN


def image_path(organisation: str, digest: str) -> ArchivePath:
    """Where an organisation's image with this digest lives in its bucket."""
    hex_digest = digest.removeprefix("sha256:")
    return ArchivePath(area=Area.heroes(organisation), path=f"images/sha256/{hex_digest}")


def _digest(sha256: str) -> str:
    value = sha256.lower()
    value = value if value.startswith("sha256:") else f"sha256:{value}"
    if not re.fullmatch(DIGEST_PATTERN, value):
        raise SpecError(f"{sha256!r} is not a sha256 digest", fix="give 'sha256:<64 hex digits>'")
    return value


class ApplicationService:
    """The catalogue for one verified caller at a time."""

    def __init__(self, catalogue: ApplicationCatalogue, archive: Archive, data: DataService) -> None:
        self.catalogue = catalogue
        self.archive = archive
        self.data = data

    # -- applications --------------------------------------------------------------------

    def register(self, identity: Identity, name: str, *, parameter_schema: Mapping[str, Any],
                 command: Sequence[str] = (), description: str = "",
                 metadata: Mapping[str, Any] | None = None) -> RegisteredApplication:
        """A new application of the caller's organisation (packagers and application providers)."""
        require(identity, Action.PACKAGE_APPLICATION, Resource(
            kind=ResourceKind.APPLICATION, organisation=identity.organisation, owner=identity.user))
        return self.catalogue.register(name, organisation=identity.organisation, owner=identity.user,
                                       parameter_schema=parameter_schema, command=command,
                                       description=description, metadata=metadata)

    def visible(self, identity: Identity) -> list[RegisteredApplication]:
        """The applications the caller may see: their organisation's, and those published to them."""
        return self.catalogue.list(identity.organisation, sorted(identity.projects))

    def version(self, identity: Identity, name: str, version: str) -> ApplicationVersion:
        """One version the caller may run (or package); the same 404 for one they may not see."""
        if not self._owned(identity, name) and not self.catalogue.can_run(
                name, version, identity.organisation, None) and not any(
                self.catalogue.can_run(name, version, identity.organisation, project)
                for project in identity.projects):
            raise NotInArchiveError(f"no application {name} {version} among those you may run",
                                    site="catalogue", fix="list them with `heroes app ls`")
        return self.catalogue.get(name, version)

    # -- images --------------------------------------------------------------------------

    def start_push(self, identity: Identity, name: str, version: str, *, size: int,
                   sha256: str) -> UploadTicket | None:
        """Presigned URLs for a new version's image; None when the archive holds that image already."""
        application = self._packaged(identity, name)
        digest = _digest(sha256)
        self._new_version(application, version, digest)
        path = image_path(application.organisation, digest)
        if self.archive.files(path):
            return None
        self.data.check_quota(path.area, size, what=f"pushing {name} {version}")
        self.archive.ensure_area(path.area)
        return self.archive.start_upload(path, size=size, sha256=digest)

    def resume_push(self, identity: Identity, name: str, upload_id: str, *, size: int,
                    sha256: str) -> UploadTicket:
        application = self._packaged(identity, name)
        return self.archive.resume_upload(image_path(application.organisation, _digest(sha256)), upload_id,
                                          size=size)

    def complete_push(self, identity: Identity, name: str, version: str, *, sha256: str, size: int,
                      upload_id: str | None, md5s: Mapping[int, str], tags: Sequence[str] = ()
                      ) -> ApplicationVersion:
        """Complete the upload (if one was needed), verify the image's digest, add the version."""
        application = self._packaged(identity, name)
        digest = _digest(sha256)
        self._new_version(application, version, digest)
        path = image_path(application.organisation, digest)
        if upload_id is not None:
            self.archive.complete_upload(path, upload_id, size=size, md5s=dict(md5s))
        stored = self._verified(path, digest)
        return self.catalogue.add_version(name, version, digest=digest, archive_key=path.key,
                                          size_bytes=stored.size, actor=identity.user, tags=tags)

    def register_image(self, identity: Identity, name: str, version: str, *, source: str, sha256: str,
                       tags: Sequence[str] = ()) -> ApplicationVersion:
        """Make a file already in one of the caller's areas a version: copied, then verified."""
        application = self._packaged(identity, name)
        digest = _digest(sha256)
        self._new_version(application, version, digest)
        found = self.data.path(identity, source)
        path = image_path(application.organisation, digest)
        if not self.archive.files(path):
            self.archive.ensure_area(path.area)
            self.archive.copy_file(found, path)
        stored = self._verified(path, digest)
        return self.catalogue.add_version(name, version, digest=digest, archive_key=path.key,
                                          size_bytes=stored.size, actor=identity.user, tags=tags)

    # -- internals -----------------------------------------------------------------------

    def _owned(self, identity: Identity, name: str) -> bool:
        try:
            return self.catalogue.application(name).organisation == identity.organisation
        except SpecError:
            return False

    def _packaged(self, identity: Identity, name: str) -> RegisteredApplication:
        """The application, if the caller may package it (its organisation's packagers and providers)."""
        try:
            application = self.catalogue.application(name)
        except SpecError:
            application = None
        organisation = application.organisation if application else identity.organisation
        require(identity, Action.PACKAGE_APPLICATION,
                Resource(kind=ResourceKind.APPLICATION, organisation=organisation))
        if application is None:
            raise NotInArchiveError(f"no application {name} of organisation {identity.organisation}",
                                    site="catalogue", fix="register it first (heroes app register)")
        return application

    @staticmethod
    def _new_version(application: RegisteredApplication, version: str, digest: str) -> None:
        """Refuse before any byte moves what the catalogue would refuse after."""
        for existing in application.versions:
            if existing.version == version:
                raise SpecError(f"'{application.name}' already has version '{version}' ({existing.digest}); "
                                "a version's image is never replaced",
                                fix="push the new image as a new version")
            if existing.digest == digest:
                raise SpecError(f"image {digest} is already version '{existing.version}' of "
                                f"'{application.name}'", fix=f"tag version '{existing.version}' instead")

    def _verified(self, path: ArchivePath, digest: str) -> ArchiveObject:
        """The stored image, once its bytes hash to ``digest``; deleted (and refused) otherwise."""
        stored = self.archive.stat(path)
        actual = f"sha256:{self.archive.sha256_of(path)}"
        if actual != digest:
            self.archive.remove(path)
            raise ChecksumMismatchError(f"the image uploaded hashes to {actual}, not {digest}: it was "
                                        "deleted", site="archive",
                                        fix="push the image again (check the file's digest)")
        return stored
