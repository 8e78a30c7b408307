"""Every transfer, succeeded or failed: who, what, from, to, how much, how long, how it ended.

Rows live in the project database (table ``data_transfers``, migration ``0007``); one row per
call of :func:`heroes_core.data.transfer`, written when it ends.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.store import Base, Database, UTCDateTime


class TransferOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DataTransfer(Base):
    """One transfer between two endpoints."""

    __tablename__ = "data_transfers"
    __table_args__ = (Index("ix_data_transfers_organisation_started", "organisation", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user: Mapped[str] = mapped_column(String(64))
    job_key: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    what: Mapped[str] = mapped_column(String(500))
    source_site: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(1000))
    destination_site: Mapped[str] = mapped_column(String(100))
    destination: Mapped[str] = mapped_column(String(1000))
    bytes: Mapped[int] = mapped_column(BigInteger)
    files: Mapped[int] = mapped_column(Integer)
    files_checked: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TransferRecord(BaseModel):
    """A row of ``data_transfers`` as the rest of HEROES reads it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    organisation: str
    project: str | None
    user: str
    job_key: str | None
    flow_run_id: str | None
    what: str
    source_site: str
    source: str
    destination_site: str
    destination: str
    bytes: int
    files: int
    files_checked: int
    attempts: int
    duration_s: float
    outcome: TransferOutcome
    error: str | None
    started_at: datetime
    finished_at: datetime


class TransferLog:
    """The transfers recorded in the project database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, *, organisation: str, user: str, what: str, source_site: str, source: str,
               destination_site: str, destination: str, started_at: datetime,
               finished_at: datetime, outcome: TransferOutcome, project: str | None = None,
               job_key: str | None = None, flow_run_id: str | None = None, bytes: int = 0,
               files: int = 0, files_checked: int = 0, attempts: int = 1,
               error: str | None = None) -> TransferRecord:
        """Write one transfer's row; texts too long for their column are cut, never refused."""
        row = DataTransfer(
            organisation=organisation, project=project, user=user, job_key=job_key,
            flow_run_id=flow_run_id, what=_cut(what, 500), source_site=_cut(source_site, 100),
            source=_cut(source, 1000), destination_site=_cut(destination_site, 100),
            destination=_cut(destination, 1000), bytes=bytes, files=files,
            files_checked=files_checked, attempts=attempts,
            duration_s=max(0.0, (finished_at - started_at).total_seconds()),
            outcome=outcome.value, error=_cut(error, 20000) if error is not None else None,
            started_at=started_at, finished_at=finished_at)
        with self.database.transaction() as session:
            session.add(row)
            session.flush()
            return TransferRecord.model_validate(row)

    def list(self, *, organisation: str, project: str | None = None, user: str | None = None,
             job_key: str | None = None, flow_run_id: str | None = None, site: str | None = None,
             outcome: TransferOutcome | None = None, since: datetime | None = None,
             limit: int = 100) -> list[TransferRecord]:
        """An organisation's transfers, newest first, narrowed by whichever filters are given
        (``site``: either end)."""
        query = select(DataTransfer).where(DataTransfer.organisation == organisation)
        for column, value in ((DataTransfer.project, project), (DataTransfer.user, user),
                              (DataTransfer.job_key, job_key),
                              (DataTransfer.flow_run_id, flow_run_id)):
            if value is not None:
                query = query.where(column == value)
        if site is not None:
            query = query.where((DataTransfer.source_site == site)
                                | (DataTransfer.destination_site == site))
        if outcome is not None:
            query = query.where(DataTransfer.outcome == outcome.value)
        if since is not None:
            query = query.where(DataTransfer.started_at >= since)
        query = query.order_by(DataTransfer.started_at.desc(), DataTransfer.id.desc()).limit(limit)
        with self.database.transaction() as session:
            return [TransferRecord.model_validate(row) for row in session.scalars(query)]


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."


__all__ = ["DataTransfer", "TransferLog", "TransferOutcome", "TransferRecord"]
