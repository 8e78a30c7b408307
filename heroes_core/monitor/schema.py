"""The ``tracked_jobs`` table (migration ``0012``): one row per HEROES job the site monitor follows.

A row is the monitor's memory, so a monitor that restarts (or a second one that takes over)
carries on where the last one stopped: which jobs are live on which site, the last state seen,
and the last state announced as an event (``announced_state``), so a change recorded but never
announced, because the monitor died in between, is announced on its next round.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.store import Base, UTCDateTime

REASON_LENGTH = 500


class TrackedJobRow(Base):
    __tablename__ = "tracked_jobs"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    site: Mapped[str] = mapped_column(String(128), index=True)
    job_id: Mapped[str] = mapped_column(String(64))
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    organisation: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH), default="")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    elapsed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    announced_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
