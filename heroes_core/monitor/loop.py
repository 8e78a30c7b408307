"""The site monitor's rounds: poll each centre with live jobs once, announce what changed.

The orchestration layer supplies the effects (:class:`MonitorHooks`: the per-login-node rate
limit, the events, the centre reports) and the clocks, so the rules are tested here without
a workflow engine or a centre:

* each round polls each centre once (:func:`~heroes_core.monitor.poller.poll_site`), a
  centre backing off excepted;
* a centre that fails is left alone for a growing delay and, once unreachable, announced so
  once (and announced back once it answers): its jobs are not touched, so none is failed for
  the silence;
* every change recorded and not yet announced is handed to the hooks, and marked announced
  only once they returned, so a change is never lost to a crash or a failed emission.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from heroes_core.errors import HeroesError
from heroes_core.monitor.health import CentreHealth
from heroes_core.monitor.poller import poll_site
from heroes_core.monitor.tracked import StateChange, TrackedJob, TrackedJobs
from heroes_core.sites import Site

LOGGER = logging.getLogger("heroes.monitor")


class MonitorHooks(Protocol):
    """What the monitor does to the world; the workflow layer implements it."""

    def throttle(self, centre: str) -> None:
        """Wait until ``centre``'s login node may be asked again (its minimum interval)."""

    def changed(self, centre: str, changes: Sequence[StateChange]) -> None:
        """Announce ``changes`` (raise to have them offered again next round)."""

    def unreachable(self, centre: str, error: HeroesError) -> None:
        """``centre`` has stopped answering."""

    def answering(self, centre: str) -> None:
        """``centre``, unreachable until now, answers again."""

    def reconcile(self, centre: str, live: Sequence[TrackedJob]) -> None:
        """Settle ``centre``'s live jobs whose runs ended without them: a run cancelled while it
        was suspended has no process left to cancel its batch job."""


class RoundReport(BaseModel):
    """What one round did, per centre."""

    polled: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict, description="Centre -> the error.")
    backing_off: list[str] = Field(default_factory=list)
    announced: list[StateChange] = Field(default_factory=list)


class SiteMonitor:
    """Rounds over the centres; ``open_site`` gives a centre's live site by name."""

    def __init__(self, tracked: TrackedJobs, open_site: Callable[[str], Site], hooks: MonitorHooks, *,
                 interval_s: float, max_backoff_s: float, failures_before_unreachable: int = 2,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.tracked = tracked
        self.open_site = open_site
        self.hooks = hooks
        self.interval_s = interval_s
        self.health = CentreHealth(interval_s=interval_s, max_backoff_s=max_backoff_s,
                                   failures_before_unreachable=failures_before_unreachable)
        self.monotonic = monotonic
        self.rounds = 0
        self.announced = 0

    def round(self, centres: Sequence[str] | None = None) -> RoundReport:
        """Poll each of ``centres`` (default: those with live jobs or unannounced changes) once."""
        self.rounds += 1
        report = RoundReport()
        for centre in centres if centres is not None else self.tracked.sites():
            if not self.health.due(centre, self.monotonic()):
                report.backing_off.append(centre)
                continue
            try:
                self.hooks.throttle(centre)
                poll_site(self.open_site(centre), self.tracked)
            except HeroesError as error:
                report.failed[centre] = str(error)
                just_lost = self.health.failed(centre, self.monotonic())
                LOGGER.warning("Centre %s did not answer (%s); asked again in %.0f s", centre, error,
                               self.health.delay_s(centre))
                if just_lost:
                    self.hooks.unreachable(centre, error)
                continue
            report.polled.append(centre)
            if self.health.answered(centre):
                self.hooks.answering(centre)
            report.announced += self.announce(centre)
            self.reconcile(centre)
        return report

    def reconcile(self, centre: str) -> None:
        live = self.tracked.live(centre)
        if not live:
            return
        try:
            self.hooks.reconcile(centre, live)
        except Exception as error:  # advice: tried again next round
            LOGGER.warning("Live jobs on %s not reconciled with their runs (%s): tried again next round",
                           centre, error)

    def announce(self, centre: str) -> list[StateChange]:
        """Hand every unannounced change of ``centre`` to the hooks; those taken are marked."""
        pending = self.tracked.unannounced(centre)
        if not pending:
            return []
        try:
            self.hooks.changed(centre, pending)
        except Exception as error:  # any failure to announce: offered again next round
            LOGGER.warning("Changes of %d jobs on %s not announced (%s): offered again next round",
                           len(pending), centre, error)
            return []
        self.tracked.announced(pending)
        self.announced += len(pending)
        return pending

    def run(self, centres: Sequence[str] | None = None, *, run_for_s: float | None = None,
            sleep: Callable[[float], None] = time.sleep) -> int:
        """Rounds every ``interval_s`` until ``run_for_s`` has passed (None: forever); the rounds run."""
        started = self.monotonic()
        while True:
            round_started = self.monotonic()
            self.round(centres)
            next_round = round_started + self.interval_s
            if run_for_s is not None and next_round - started >= run_for_s:
                return self.rounds
            sleep(max(0.0, next_round - self.monotonic()))
