"""Users' areas in the archive, the paths users write for them, and who may reach each.

One bucket per organisation (``S3Endpoint.bucket_for``) holds:

* ``<user>/``: a user's home (their inputs; ``jobs/<key>/`` their jobs' outputs);
* ``projects/<project>/``: a project's shared area;
* ``_heroes/``: what HEROES owns (ledger exports, Terraform state, job records).

Users name files by area, as they see them: ``home/inputs/a.csv`` is in their own home,
``projects/cfd/mesh.vtk`` in project ``cfd``'s area. No user path can name another user's
home (a home is only ever its owner's), ``_heroes/`` (no area maps to it), or leave its area
(``..`` is refused where the path enters). ``projects`` is a reserved user name, so no home
can collide with the project areas.

Access follows the actions table: a home is reached with "data access (home)" by its owner;
a project's area with "access project data" by the project's members, or with "manage data
access" by the organisation's project admins.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from heroes_core.data._endpoints import HEROES_PREFIX
from heroes_core.errors import PathEscapeError, PermissionDeniedError
from heroes_core.identity import Action, Identity, Resource, ResourceKind, authorize, require
from heroes_core.models import NAME_PATTERN, Name, Organisation, safe_relative_path

HOME: Final = "home"
PROJECTS: Final = "projects"


class AreaKind(StrEnum):
    HOME = "home"
    PROJECT = "project"
    HEROES = "heroes"  # HEROES' own objects: no user path names it, no role reaches it


class Area(BaseModel):
    """A user's home or a project's shared area in one organisation's bucket."""

    model_config = ConfigDict(frozen=True)

    organisation: Organisation
    kind: AreaKind
    name: Name  # the home's user, or the project

    @classmethod
    def home(cls, organisation: str, user: str) -> Area:
        return cls(organisation=organisation, kind=AreaKind.HOME, name=user)

    @classmethod
    def project(cls, organisation: str, project: str) -> Area:
        return cls(organisation=organisation, kind=AreaKind.PROJECT, name=project)

    @classmethod
    def heroes(cls, organisation: str) -> Area:
        """What HEROES keeps for the organisation (its applications' images, records)."""
        return cls(organisation=organisation, kind=AreaKind.HEROES, name="heroes")

    @property
    def prefix(self) -> str:
        """The area's object-key prefix inside the organisation's bucket."""
        if self.kind is AreaKind.HEROES:
            return f"{HEROES_PREFIX}/"
        return f"{self.name}/" if self.kind is AreaKind.HOME else f"{PROJECTS}/{self.name}/"

    @property
    def label(self) -> str:
        """How users write the area: ``home/`` (their own) or ``projects/<project>/``."""
        if self.kind is AreaKind.HEROES:
            return f"{HEROES_PREFIX}/"
        return f"{HOME}/" if self.kind is AreaKind.HOME else f"{PROJECTS}/{self.name}/"

    def resource(self) -> Resource:
        if self.kind is AreaKind.HOME:
            return Resource(kind=ResourceKind.HOME, organisation=self.organisation, owner=self.name)
        return Resource(kind=ResourceKind.DATA, organisation=self.organisation, project=self.name)


class ArchivePath(BaseModel):
    """A file, or a folder when it ends with ``/`` or is empty, inside one area."""

    model_config = ConfigDict(frozen=True)

    area: Area
    path: str = ""

    @property
    def key(self) -> str:
        """The object key in the organisation's bucket."""
        return self.area.prefix + self.path

    @property
    def is_folder(self) -> bool:
        return self.path == "" or self.path.endswith("/")

    def __str__(self) -> str:
        return self.area.label + self.path

    def relative(self, key: str) -> ArchivePath:
        """The path of ``key``, an object key inside this path's area."""
        if not key.startswith(self.area.prefix):
            raise ValueError(f"{key!r} is not inside {self.area.label}")
        return ArchivePath(area=self.area, path=key.removeprefix(self.area.prefix))


def parse_path(text: str, identity: Identity) -> ArchivePath:
    """The area and file a caller means by ``text``, refused if it leaves every area.

    Only where the path is: whether the caller may reach it is :func:`require_access`'s answer.
    """
    head, _, rest = text.lstrip("/").partition("/")
    if head == HOME:
        area = Area.home(identity.organisation, identity.user)
    elif head == PROJECTS:
        project, _, rest = rest.partition("/")
        if not project:
            raise PathEscapeError(f"archive path {text!r} names no project",
                                  fix="write projects/<project>/<file>")
        if not _is_name(project):
            raise PathEscapeError(f"{project!r} in {text!r} is not a project name",
                                  fix="write projects/<project>/<file>")
        area = Area.project(identity.organisation, project)
    else:
        raise PathEscapeError(f"archive path {text!r} is in no area",
                              fix="start it with home/ (your own files) or projects/<project>/")
    if rest == "":
        return ArchivePath(area=area)
    folder = rest.endswith("/")
    path = safe_relative_path(rest.rstrip("/"))
    return ArchivePath(area=area, path=path + ("/" if folder else ""))


def _is_name(value: str) -> bool:
    return re.fullmatch(NAME_PATTERN, value) is not None


def require_access(identity: Identity, area: Area) -> None:
    """Raise :class:`PermissionDeniedError` unless the caller may read and write ``area``."""
    if area.kind is AreaKind.HEROES:
        raise PermissionDeniedError(f"'{identity.user}' may not reach {area.label}: it holds what HEROES "
                                    "keeps, and no role reaches it", action=Action.MANAGE_DATA_ACCESS.value)
    resource = area.resource()
    if area.kind is AreaKind.HOME:
        require(identity, Action.ACCESS_HOME_DATA, resource)
        return
    if authorize(identity, Action.MANAGE_DATA_ACCESS, resource).allowed:
        return
    require(identity, Action.ACCESS_PROJECT_DATA, resource)


def may_access(identity: Identity, area: Area) -> bool:
    try:
        require_access(identity, area)
    except PermissionDeniedError:
        return False
    return True


def areas_of(identity: Identity) -> list[Area]:
    """The areas a caller reaches: their home, and each of their projects' areas they may use."""
    candidates = [Area.home(identity.organisation, identity.user),
                  *(Area.project(identity.organisation, project) for project in sorted(identity.projects))]
    return [area for area in candidates if may_access(identity, area)]
