"""The jobs the site monitor follows and the state changes it saw, kept in the project database.

Everything here is idempotent, because the monitor and the flows that register jobs may each
run twice (a retried task, a resumed run, two monitors during a hand-over):

* tracking a key again with the same job id changes nothing; a new job id (the job was
  submitted anew under the same key) replaces the old one and starts from "not seen yet";
* recording the same statuses twice yields the changes once: a change is a state different
  from the stored one, decided under the row's lock;
* a change is *announced* (its event emitted) separately from being recorded, so a change the
  monitor recorded but died before announcing is still announced on its next round, and its
  :attr:`StateChange.seq` lets the announcer give the event an id that makes a repeat harmless.

A scheduler that cannot place a job for a while (``UNKNOWN``) changes nothing: the job keeps its
last known state, so no job is ever failed for what the monitor could not see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from heroes_core.models import JobState, JobStatus
from heroes_core.monitor.schema import REASON_LENGTH, TrackedJobRow
from heroes_core.store import Database

_LIVE_STATES = [s.value for s in JobState if not s.is_final]


def _now() -> datetime:
    return datetime.now(UTC)


class TrackedJob(BaseModel):
    """One job the monitor follows, as last seen."""

    model_config = ConfigDict(frozen=True)

    key: str
    site: str
    job_id: str
    flow_run_id: str | None
    organisation: str
    state: JobState = Field(description="UNKNOWN until the scheduler first reported the job.")
    reason: str = ""
    exit_code: int | None = None
    elapsed_s: float | None = None
    submitted_at: datetime
    changed_at: datetime
    polled_at: datetime | None = None

    @property
    def status(self) -> JobStatus:
        """The last state seen, in the shape the job lifecycle takes (``heroes_core.jobs``)."""
        return JobStatus(job_id=self.job_id, state=self.state, reason=self.reason,
                         exit_code=self.exit_code)

    @classmethod
    def of(cls, row: TrackedJobRow) -> TrackedJob:
        return cls(key=row.key, site=row.site, job_id=row.job_id, flow_run_id=row.flow_run_id,
                   organisation=row.organisation, state=JobState(row.state), reason=row.reason,
                   exit_code=row.exit_code, elapsed_s=row.elapsed_s, submitted_at=row.submitted_at,
                   changed_at=row.changed_at, polled_at=row.polled_at)


class StateChange(BaseModel):
    """A job seen in a new state: what the monitor announces as ``heroes.job.<state>``."""

    model_config = ConfigDict(frozen=True)

    key: str
    site: str
    job_id: str
    flow_run_id: str | None
    organisation: str
    previous: JobState = Field(description="The state announced before (UNKNOWN: none yet).")
    state: JobState
    reason: str = ""
    exit_code: int | None = None
    elapsed_s: float | None = None
    seq: int = Field(ge=1, description="Which change of this job it is (1: the first seen): the "
                                       "same change always carries the same number.")
    occurred: datetime = Field(description="When the monitor saw the change.")

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @classmethod
    def of(cls, row: TrackedJobRow, previous: JobState) -> StateChange:
        return cls(key=row.key, site=row.site, job_id=row.job_id, flow_run_id=row.flow_run_id,
                   organisation=row.organisation, previous=previous, state=JobState(row.state),
                   reason=row.reason, exit_code=row.exit_code, elapsed_s=row.elapsed_s,
                   seq=row.changes, occurred=row.changed_at)


class TrackedJobs:
    """The ``tracked_jobs`` table: register jobs, list the live ones, record what a poll saw."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = _now) -> None:
        self.database = database
        self.clock = clock

    def track(self, key: str, site: str, job_id: str, flow_run_id: str | None, organisation: str,
              submitted_at: datetime | None = None) -> TrackedJob:
        """Follow job ``job_id`` of ``key`` on ``site`` (idempotent, see the module).

        Re-tracking with the same job id keeps everything seen so far; only a flow run id, when a
        different one is given (a new run took the job over), replaces the stored one, so the
        job's events reach the run that now waits for them.
        """
        if submitted_at is not None and submitted_at.utcoffset() is None:
            raise ValueError(f"submitted_at={submitted_at.isoformat()} has no time zone: give an "
                             "aware datetime (e.g. datetime.now(UTC))")
        stamp = (submitted_at or self.clock()).astimezone(UTC)
        with self.database.transaction() as session:
            row = self._locked(session, key)
            if row is None:
                row = TrackedJobRow(key=key)
                session.add(row)
            elif row.job_id == job_id and row.site == site:
                if flow_run_id and flow_run_id != row.flow_run_id:
                    row.flow_run_id = flow_run_id
                session.flush()
                return TrackedJob.of(row)
            row.site, row.job_id, row.flow_run_id, row.organisation = site, job_id, flow_run_id, organisation
            row.state, row.reason, row.exit_code, row.elapsed_s = JobState.UNKNOWN.value, "", None, None
            row.changes, row.announced_state = 0, None
            row.submitted_at, row.changed_at, row.polled_at = stamp, self.clock(), None
            session.flush()
            return TrackedJob.of(row)

    def forget(self, key: str) -> bool:
        """Stop following ``key`` (its job was cancelled and reconciled elsewhere, or its centre
        retired); whether it was followed."""
        with self.database.transaction() as session:
            row = self._locked(session, key)
            if row is not None:
                session.delete(row)
            return row is not None

    def get(self, key: str) -> TrackedJob | None:
        with self.database.transaction() as session:
            row = session.get(TrackedJobRow, key)
            return TrackedJob.of(row) if row else None

    def live(self, site: str) -> list[TrackedJob]:
        """The site's jobs not known to have ended, oldest submission first."""
        with self.database.transaction() as session:
            rows = session.scalars(select(TrackedJobRow)
                                   .where(TrackedJobRow.site == site, TrackedJobRow.state.in_(_LIVE_STATES))
                                   .order_by(TrackedJobRow.submitted_at, TrackedJobRow.key))
            return [TrackedJob.of(row) for row in rows]

    def sites(self) -> list[str]:
        """Sites with live jobs, or with a change not announced yet: what the monitor polls."""
        with self.database.transaction() as session:
            live = session.scalars(select(TrackedJobRow.site).distinct()
                                   .where(TrackedJobRow.state.in_(_LIVE_STATES)))
            return sorted(set(live) | {c.site for c in self._unannounced(session, None)})

    def record(self, site: str, statuses: Mapping[str, JobStatus] | Iterable[JobStatus]
               ) -> list[StateChange]:
        """Store what one poll of ``site`` saw; the real changes, each once.

        Only live jobs of ``site`` are touched (an ended job stays ended). ``UNKNOWN`` is no
        news: the job keeps its last known state.
        """
        seen = list(statuses.values()) if isinstance(statuses, Mapping) else list(statuses)
        by_id = {s.job_id: s for s in seen}
        if not by_id:
            return []
        now = self.clock()
        changes: list[StateChange] = []
        with self.database.transaction() as session:
            rows = session.scalars(select(TrackedJobRow)
                                   .where(TrackedJobRow.site == site, TrackedJobRow.state.in_(_LIVE_STATES),
                                          TrackedJobRow.job_id.in_(sorted(by_id)))
                                   .order_by(TrackedJobRow.key).with_for_update())
            for row in rows:
                status = by_id[row.job_id]
                row.polled_at = now
                if status.state is JobState.UNKNOWN or status.state.value == row.state:
                    continue
                previous = JobState(row.state)
                row.state, row.reason = status.state.value, status.reason[:REASON_LENGTH]
                row.exit_code, row.elapsed_s = status.exit_code, status.elapsed_s
                row.changes, row.changed_at = row.changes + 1, now
                changes.append(StateChange.of(row, previous))
        return changes

    def unannounced(self, site: str | None = None) -> list[StateChange]:
        """Changes recorded but not announced yet (of ``site``, or of every site), each as one
        change from the state last announced to the state now stored."""
        with self.database.transaction() as session:
            return self._unannounced(session, site)

    def announced(self, changes: Sequence[StateChange]) -> None:
        """Note that ``changes`` were announced; a row changed again since keeps its news."""
        if not changes:
            return
        wanted = {c.key: c for c in changes}
        with self.database.transaction() as session:
            rows = session.scalars(select(TrackedJobRow).where(TrackedJobRow.key.in_(sorted(wanted)))
                                   .order_by(TrackedJobRow.key).with_for_update())
            for row in rows:
                change = wanted[row.key]
                if (row.job_id, row.changes) == (change.job_id, change.seq):
                    row.announced_state = change.state.value

    @staticmethod
    def _locked(session: Session, key: str) -> TrackedJobRow | None:
        return session.scalars(select(TrackedJobRow).where(TrackedJobRow.key == key)
                               .with_for_update()).one_or_none()

    @staticmethod
    def _unannounced(session: Session, site: str | None) -> list[StateChange]:
        news = or_(TrackedJobRow.announced_state.is_(None),
                   TrackedJobRow.announced_state != TrackedJobRow.state)
        query = (select(TrackedJobRow).where(TrackedJobRow.changes > 0, news)
                 .order_by(TrackedJobRow.changed_at, TrackedJobRow.key))
        if site is not None:
            query = query.where(TrackedJobRow.site == site)
        return [StateChange.of(row, JobState(row.announced_state or JobState.UNKNOWN.value))
                for row in session.scalars(query)]
