"""What the application catalogue gives back: plain pydantic models, never database rows.

Callers (the gateway, flows, the CLI) get values they can serialise and keep after the
transaction that read them has ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from heroes_core.models import DIGEST_PATTERN, NAME_PATTERN, Name, Organisation

# A version string, and a tag: letters, digits, '.', '-', '_', '+'; 1-64 characters.
VERSION_PATTERN = r"^[A-Za-z0-9._+-]{1,64}$"


class PublicationScope(StrEnum):
    """Who a publication admits: one project's members, a whole organisation, or everyone."""

    PROJECT = "project"
    ORGANISATION = "organisation"
    EVERYONE = "everyone"


class PublicationTarget(BaseModel):
    """Where a version is published; build one with :meth:`everyone`, :meth:`of_organisation`
    or :meth:`of_project` so the fields always fit the scope."""

    model_config = ConfigDict(frozen=True)

    scope: PublicationScope
    organisation: Organisation | None = None
    project: Name | None = None

    @model_validator(mode="after")
    def _fits_scope(self) -> PublicationTarget:
        wants_organisation = self.scope is not PublicationScope.EVERYONE
        wants_project = self.scope is PublicationScope.PROJECT
        if ((self.organisation is not None) != wants_organisation
                or (self.project is not None) != wants_project):
            raise ValueError(f"a '{self.scope}' publication names "
                             + {PublicationScope.EVERYONE: "no organisation and no project",
                                PublicationScope.ORGANISATION: "an organisation and no project",
                                PublicationScope.PROJECT: "an organisation and a project"}[self.scope])
        return self

    @classmethod
    def everyone(cls) -> PublicationTarget:
        return cls(scope=PublicationScope.EVERYONE)

    @classmethod
    def of_organisation(cls, organisation: str) -> PublicationTarget:
        return cls(scope=PublicationScope.ORGANISATION, organisation=organisation)

    @classmethod
    def of_project(cls, organisation: str, project: str) -> PublicationTarget:
        return cls(scope=PublicationScope.PROJECT, organisation=organisation, project=project)

    @property
    def key(self) -> str:
        """The target as one string: ``everyone``, ``organisation:acme``, ``project:acme/fluids``."""
        if self.scope is PublicationScope.EVERYONE:
            return "everyone"
        if self.scope is PublicationScope.ORGANISATION:
            return f"organisation:{self.organisation}"
        return f"project:{self.organisation}/{self.project}"

    def admits(self, organisation: str, projects: Iterable[str] = ()) -> bool:
        """Whether a user of ``organisation``, member of ``projects``, is within this target."""
        if self.scope is PublicationScope.EVERYONE:
            return True
        if self.organisation != organisation:
            return False
        return self.scope is PublicationScope.ORGANISATION or self.project in set(projects)


class Publication(BaseModel):
    """One target a version is offered to, and on what terms."""

    model_config = ConfigDict(frozen=True)

    target: PublicationTarget
    licence_terms: str
    price_offering: str = Field(description="Business model name in the costs module's price book.")
    licence_seats: int | None = Field(default=None, ge=1, description=(
        "Runs of this version one workflow may hold at once under the licence (None: unlimited); "
        "the placement never plans more."))
    published_at: datetime
    published_by: str


class ApplicationVersion(BaseModel):
    """One version of an application: its image in the archive, tags, test and publications."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="The application's name.")
    version: str = Field(pattern=VERSION_PATTERN)
    digest: str = Field(pattern=DIGEST_PATTERN)
    archive_key: str = Field(description="Where the image is in the archive (object key).")
    size_bytes: int
    tags: tuple[str, ...] = ()
    parameter_schema: dict[str, Any] = Field(
        description="The JSON Schema (draft 2020-12) this version's parameters must match.")
    registered_at: datetime
    registered_by: str
    tested_digest_ok: bool = Field(
        description="The functional test passed for exactly this digest; publication needs it.")
    tested_at: datetime | None = None
    tested_flow_run_id: str | None = None
    publications: tuple[Publication, ...] = Field(
        default=(), description="All of them for the catalogue's own reads; in a listing for a "
                                "user, only those that admit the user.")


class RegisteredApplication(BaseModel):
    """An application, who owns it, and its versions (in the order they were added)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    organisation: str = Field(description="The packager's or application provider's organisation.")
    owner: str
    description: str
    metadata: dict[str, Any]
    parameter_schema: dict[str, Any]
    command: tuple[str, ...] = Field(default=(), description="The argv a run starts; '{name}' stands for "
                                                             "parameter 'name'. Empty: not runnable by name.")
    registered_at: datetime
    versions: tuple[ApplicationVersion, ...] = ()


class AuditAction(StrEnum):
    REGISTER = "register"
    ADD_VERSION = "add_version"
    TAG = "tag"
    UNTAG = "untag"
    FUNCTIONAL_TEST = "functional_test"
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"


class AuditEntry(BaseModel):
    """One change to the catalogue: who did what, when, to which application and version."""

    model_config = ConfigDict(frozen=True)

    application: str
    version: str | None
    action: AuditAction
    actor: str
    at: datetime
    detail: dict[str, Any]


__all__ = ["VERSION_PATTERN", "ApplicationVersion", "AuditAction", "AuditEntry", "Publication",
           "PublicationScope", "PublicationTarget", "RegisteredApplication"]
