"""Quotas: how much an organisation, a project or a user may keep in the archive and on each centre.

A quota is a row of ``data_quotas``: who (the organisation as a whole, one of its projects,
one of its users), where (``archive``, or a centre by its name) and how many bytes. No row,
no limit. Every write is checked before it starts, against every quota that covers it: a
file going to a project's area counts against that project's quota and the organisation's;
one going to a home against its user's and the organisation's. A refusal gives the numbers:
what is used, what would be added, the limit, and which quota says so.

Usage is measured where the bytes are (the archive's listing, the centre's ``du``) at the
moment of the check, so a quota never drifts from a counter that missed a write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import BigInteger, Integer, Select, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.errors import QuotaExceededError
from heroes_core.models import NAME_PATTERN, Name, Organisation
from heroes_core.store import Base, Database, UTCDateTime

ARCHIVE_PLACE: Final = "archive"


class QuotaScope(StrEnum):
    ORGANISATION = "organisation"
    PROJECT = "project"
    USER = "user"


class QuotaRow(Base):
    __tablename__ = "data_quotas"
    __table_args__ = (UniqueConstraint("organisation", "scope", "name", "place"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))  # '' for the organisation itself
    place: Mapped[str] = mapped_column(String(100))  # 'archive' or a centre's name
    limit_bytes: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Quota(BaseModel):
    """One limit: who it covers, where, and how many bytes."""

    model_config = ConfigDict(frozen=True)

    organisation: Organisation
    scope: QuotaScope
    name: str = Field(default="", pattern=f"^$|{NAME_PATTERN}",
                      description="The project or user ('' for the organisation).")
    place: str = Field(default=ARCHIVE_PLACE, pattern=NAME_PATTERN,
                       description="'archive', or the centre's name.")
    limit_bytes: int = Field(ge=0)

    @model_validator(mode="after")
    def _names_its_holder(self) -> Quota:
        if (self.scope is QuotaScope.ORGANISATION) != (self.name == ""):
            raise ValueError(f"a {self.scope.value} quota {'takes no' if self.name else 'needs a'} name: the "
                             "project or user it limits, and none for the organisation")
        return self

    def describe(self) -> str:
        who = (f"organisation {self.organisation}" if self.scope is QuotaScope.ORGANISATION
               else f"{self.scope.value} {self.organisation}/{self.name}")
        where = "the archive" if self.place == ARCHIVE_PLACE else f"centre {self.place}"
        return f"{who}'s quota on {where}"


class Holder(BaseModel):
    """What a write is charged to: an organisation, and within it a project or a user."""

    model_config = ConfigDict(frozen=True)

    organisation: Organisation
    project: Name | None = None
    user: Name | None = None

    def scopes(self) -> list[tuple[QuotaScope, str]]:
        found = [(QuotaScope.ORGANISATION, "")]
        if self.project:
            found.append((QuotaScope.PROJECT, self.project))
        if self.user:
            found.append((QuotaScope.USER, self.user))
        return found


# How many bytes a quota's holder already uses: given the quota, measured where the bytes are.
Usage = Callable[[Quota], int]


def size_text(size: float) -> str:
    """Bytes for people: 1.5 GiB, 300 KiB, 12 B."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class Quotas:
    """The quotas of every organisation, kept in the project database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def set(self, quota: Quota, *, by: str) -> Quota:
        """Create or change a quota (one per holder and place)."""
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            row = session.scalars(self._where(quota.organisation, quota.scope, quota.name, quota.place)
                                  ).one_or_none()
            if row is None:
                session.add(QuotaRow(organisation=quota.organisation, scope=quota.scope.value,
                                     name=quota.name, place=quota.place, limit_bytes=quota.limit_bytes,
                                     set_by=by, set_at=now))
            else:
                row.limit_bytes, row.set_by, row.set_at = quota.limit_bytes, by, now
        return quota

    def remove(self, organisation: str, scope: QuotaScope, name: str, place: str) -> bool:
        with self.db.transaction() as session:
            row = session.scalars(self._where(organisation, scope, name, place)).one_or_none()
            if row is None:
                return False
            session.delete(row)
            return True

    def of_organisation(self, organisation: str) -> list[Quota]:
        with self.db.transaction() as session:
            rows = session.scalars(select(QuotaRow).where(QuotaRow.organisation == organisation)
                                   .order_by(QuotaRow.place, QuotaRow.scope, QuotaRow.name))
            return [self._model(row) for row in rows]

    def covering(self, holder: Holder, place: str) -> list[Quota]:
        """The quotas a write by ``holder`` at ``place`` counts against, widest first."""
        with self.db.transaction() as session:
            found: list[Quota] = []
            for scope, name in holder.scopes():
                row = session.scalars(self._where(holder.organisation, scope, name, place)).one_or_none()
                if row is not None:
                    found.append(self._model(row))
            return found

    def check(self, holder: Holder, place: str, adding: int, usage: Usage, *, what: str) -> None:
        """Refuse ``what`` (``adding`` bytes) if it would take any covering quota past its limit."""
        for quota in self.covering(holder, place):
            used = usage(quota)
            if used + adding > quota.limit_bytes:
                free = max(0, quota.limit_bytes - used)
                raise QuotaExceededError(
                    f"{what} ({size_text(adding)}) would pass {quota.describe()}: {size_text(used)} of "
                    f"{size_text(quota.limit_bytes)} used, {size_text(free)} free",
                    site=place, fix="delete files you no longer need, or ask a project admin for a "
                                    "larger quota")

    @staticmethod
    def _where(organisation: str, scope: QuotaScope, name: str, place: str) -> Select[QuotaRow]:
        return select(QuotaRow).where(QuotaRow.organisation == organisation, QuotaRow.scope == scope.value,
                                      QuotaRow.name == name, QuotaRow.place == place)

    @staticmethod
    def _model(row: QuotaRow) -> Quota:
        return Quota(organisation=row.organisation, scope=QuotaScope(row.scope), name=row.name,
                     place=row.place, limit_bytes=row.limit_bytes)
