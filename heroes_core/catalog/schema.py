"""Tables of the application catalogue (SQLAlchemy 2 typed ORM); migration ``0006`` mirrors them.

Versions are never updated except for their functional-test result: an image, once
registered under a version, stays that version's image, so a run that names a version
always gets the bytes that were tested. Tags are the only names that move. Every change
is also written to ``catalogue_events`` (who, what, when) for audit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heroes_core.store import Base, UTCDateTime


class CatalogueApplication(Base):
    """An application: its owners and the parameters every run of it takes.

    Names are unique across the installation: jobs and workflows name an application
    by its name alone.
    """

    __tablename__ = "catalogue_applications"
    __table_args__ = (UniqueConstraint("name", name="uq_catalogue_applications_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(40), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    # ``metadata`` is the declarative base's own attribute: the column keeps the name
    details: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    parameter_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the argv a run starts, '{parameter}' standing for a parameter's value (migration 0009)
    command: Mapped[list[str]] = mapped_column(JSON, default=list)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())

    versions: Mapped[list[CatalogueVersion]] = relationship(
        back_populates="application", order_by="CatalogueVersion.id")


class CatalogueVersion(Base):
    """One immutable image of an application, stored in the archive, and its functional test."""

    __tablename__ = "catalogue_versions"
    __table_args__ = (
        UniqueConstraint("application_id", "version", name="uq_catalogue_versions_version"),
        UniqueConstraint("application_id", "digest", name="uq_catalogue_versions_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("catalogue_applications.id"))
    version: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(71))
    archive_key: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # None: the application's schema applies
    parameter_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    registered_by: Mapped[str] = mapped_column(String(64))
    tested_digest_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tested_flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    application: Mapped[CatalogueApplication] = relationship(back_populates="versions")
    tags: Mapped[list[CatalogueTag]] = relationship(back_populates="version", order_by="CatalogueTag.tag")
    publications: Mapped[list[CataloguePublication]] = relationship(
        back_populates="version", order_by="CataloguePublication.id", cascade="all, delete-orphan")


class CatalogueTag(Base):
    """A name ("latest", "stable") pointing at one version of an application; it may move."""

    __tablename__ = "catalogue_tags"
    __table_args__ = (UniqueConstraint("application_id", "tag", name="uq_catalogue_tags_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("catalogue_applications.id"))
    tag: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_versions.id"), index=True)

    version: Mapped[CatalogueVersion] = relationship(back_populates="tags")


class CataloguePublication(Base):
    """A version offered to a project, an organisation or everyone, on licence terms and a price.

    ``target`` is the target as one string (``everyone``, ``organisation:<org>``,
    ``project:<org>/<project>``) so the database itself keeps each target once per version
    (a unique constraint over nullable columns would not: NULLs never collide).
    """

    __tablename__ = "catalogue_publications"
    __table_args__ = (UniqueConstraint("version_id", "target", name="uq_catalogue_publications_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_versions.id"))
    target: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(16))  # "project" | "organisation" | "everyone"
    organisation: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    licence_terms: Mapped[str] = mapped_column(Text)
    price_offering: Mapped[str] = mapped_column(String(200))
    licence_seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(64))

    version: Mapped[CatalogueVersion] = relationship(back_populates="publications")


class CatalogueEvent(Base):
    """Append-only audit trail of every change to an application, its versions and publications."""

    __tablename__ = "catalogue_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("catalogue_applications.id"), index=True)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


__all__ = ["CatalogueApplication", "CatalogueEvent", "CataloguePublication", "CatalogueTag",
           "CatalogueVersion"]
