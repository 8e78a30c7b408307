"""Which centres are enrolled, with which runtime, and how their last compliance check went.

Rows live in the project database (table ``centre_enrolments``, migration ``0003``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.errors import SpecError
from heroes_core.store import Base, Database, UTCDateTime


class CentreEnrolment(Base):
    """One HPC centre (by its block name) enrolled in HEROES."""

    __tablename__ = "centre_enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    centre: Mapped[str] = mapped_column(String(100), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    runtime_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_compliance_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_compliance_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_compliance_failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EnrolmentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    centre: str
    enrolled_at: datetime | None
    runtime_version: str | None
    last_compliance_ok: bool | None
    last_compliance_at: datetime | None
    last_compliance_failures: list[dict[str, Any]]
    facts: dict[str, Any] = {}

    @property
    def enrolled(self) -> bool:
        return self.enrolled_at is not None

    @property
    def has_ear(self) -> bool:
        """Whether the runtime found EAR on the centre (``ear_found`` in its stamp): its jobs then
        run under an EAR policy and their energy is read from ``eacct``."""
        return str(self.facts.get("ear_found", "")).strip().lower() == "true"


def _view(row: CentreEnrolment) -> EnrolmentView:
    return EnrolmentView(centre=row.centre, enrolled_at=row.enrolled_at,
                         runtime_version=row.runtime_version,
                         last_compliance_ok=row.last_compliance_ok,
                         last_compliance_at=row.last_compliance_at,
                         last_compliance_failures=list(row.last_compliance_failures or []),
                         facts=dict(row.facts or {}))


class Enrolments:
    """Read and write centre enrolments."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def _row(self, session: Any, centre: str) -> CentreEnrolment:
        row = session.scalars(select(CentreEnrolment).where(CentreEnrolment.centre == centre)
                              .with_for_update()).first()
        if row is None:
            row = CentreEnrolment(centre=centre, last_compliance_failures=[], facts={})
            session.add(row)
        return row  # type: ignore[no-any-return]

    def record_enrolment(self, centre: str, runtime_version: str, at: datetime | None = None,
                         facts: dict[str, Any] | None = None) -> EnrolmentView:
        """Mark ``centre`` enrolled (again): its enrolment also counts as a passed compliance check."""
        stamp = at or datetime.now(UTC)
        with self.database.transaction() as session:
            row = self._row(session, centre)
            row.facts = dict(facts or {})
            row.enrolled_at = stamp
            row.runtime_version = runtime_version
            row.last_compliance_ok = True
            row.last_compliance_at = stamp
            row.last_compliance_failures = []
            session.flush()
            return _view(row)

    def record_compliance(self, centre: str, ok: bool, failures: list[dict[str, Any]],
                          runtime_version: str | None = None,
                          at: datetime | None = None, facts: dict[str, Any] | None = None) -> EnrolmentView:
        """Record a compliance check; ``facts`` (when the stamp was read) replace the known ones."""
        with self.database.transaction() as session:
            row = self._row(session, centre)
            if facts is not None:
                row.facts = dict(facts)
            row.last_compliance_ok = ok
            row.last_compliance_at = at or datetime.now(UTC)
            row.last_compliance_failures = failures
            if runtime_version is not None:
                row.runtime_version = runtime_version
            session.flush()
            return _view(row)

    def get(self, centre: str) -> EnrolmentView | None:
        with self.database.transaction() as session:
            row = session.scalars(select(CentreEnrolment)
                                  .where(CentreEnrolment.centre == centre)).first()
            return _view(row) if row is not None else None

    def all(self) -> list[EnrolmentView]:
        with self.database.transaction() as session:
            return [_view(r) for r in session.scalars(select(CentreEnrolment)
                                                      .order_by(CentreEnrolment.centre))]

    def failing(self, centres: list[str]) -> list[str]:
        """Those of ``centres`` whose last compliance check failed: the decision module skips them."""
        return [view.centre for view in self.all()
                if view.centre in centres and view.last_compliance_ok is False]

    def placeable(self, centres: list[str]) -> list[str]:
        """Those of ``centres`` jobs may be placed on: all but those whose last check failed.

        Refusing when none is left keeps a workflow from being planned onto centres known to be
        broken; the failed check's record says why each was left out.
        """
        failing = self.failing(centres)
        kept = [name for name in centres if name not in failing]
        if not kept:
            raise SpecError(f"every candidate centre failed its last compliance check: "
                            f"{', '.join(failing)}", site="decision",
                            fix="repair the centres and re-run check-hpc-centre-compliance")
        return kept
