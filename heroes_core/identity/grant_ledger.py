"""One flow run per grant: the project database remembers which run each grant's nonce started.

A grant is a bearer token: whoever copies it from a run's parameters could start a second
run with it and the same parameters, within its few minutes of life. So a run claims its
grant's nonce before its first step (table ``grant_claims``, migration ``0005``). The same
flow run may claim again: Prefect retries a run and resumes a crashed one under its id, and
those must go on. Any other flow run is refused as a replay.

It sits above both the store and identity (which may not import each other), like the
modules that keep their records in the project database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.errors import GrantReplayedError
from heroes_core.identity.grants import Grant
from heroes_core.store import Base, Database, UTCDateTime


class GrantClaim(Base):
    """The flow run a grant's nonce started; kept so a later run with the same grant is refused."""

    __tablename__ = "grant_claims"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    deployment: Mapped[str] = mapped_column(String(300))
    organisation: Mapped[str] = mapped_column(String(40))
    user: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GrantLedger:
    """Claims grants for flow runs in the project database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def claim(self, grant: Grant, flow_run_id: str, *, now: datetime | None = None) -> None:
        """Bind ``grant`` to ``flow_run_id``, or raise :class:`GrantReplayedError`.

        Idempotent for the same flow run. Two runs claiming one grant at once both try to
        insert the nonce: the primary key lets exactly one succeed.
        """
        try:
            with self.database.transaction() as session:
                session.add(GrantClaim(
                    nonce=grant.nonce, flow_run_id=flow_run_id, deployment=grant.deployment,
                    organisation=grant.identity.organisation, user=grant.identity.user,
                    expires_at=grant.expires_at, claimed_at=now or datetime.now(UTC)))
            return
        except IntegrityError:
            pass
        owner = self.claimed_by(grant.nonce)
        if owner != flow_run_id:
            raise GrantReplayedError(
                "the run's grant has already started another flow run; a grant starts one run only",
                fix="launch a new run through the HEROES gateway (`heroes run` or its UI), which "
                    "issues a fresh grant; to run this one again, retry it in Prefect instead")

    def claimed_by(self, nonce: str) -> str | None:
        """The flow run that claimed ``nonce``, if any."""
        with self.database.transaction() as session:
            return session.scalar(select(GrantClaim.flow_run_id).where(GrantClaim.nonce == nonce))


__all__ = ["GrantClaim", "GrantLedger"]
