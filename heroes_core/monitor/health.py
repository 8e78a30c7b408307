"""Which centres answer, and when to ask one that did not again: back-off per centre.

A centre that fails a poll is asked again after a growing delay (the round interval doubled
per consecutive failure, capped), so a centre that is down is not hammered and the others keep
their pace. After ``failures_before_unreachable`` consecutive failures it is *unreachable*:
said once, when it becomes so, and once more when it answers again, so the caller can tell
the planner to leave it out and then take it back. One failed poll is not enough: a dropped
link that the transport re-opens at once must not take a centre out of every plan.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Centre:
    failures: int = 0
    retry_at: float = 0.0
    unreachable: bool = False


class CentreHealth:
    """Back-off and reachability of each centre, on a monotonic clock given by the caller."""

    def __init__(self, *, interval_s: float, max_backoff_s: float, failures_before_unreachable: int = 2
                 ) -> None:
        if interval_s <= 0 or max_backoff_s < interval_s or failures_before_unreachable < 1:
            raise ValueError("need 0 < interval_s <= max_backoff_s and failures_before_unreachable >= 1")
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.failures_before_unreachable = failures_before_unreachable
        self._centres: dict[str, _Centre] = {}

    def _of(self, centre: str) -> _Centre:
        return self._centres.setdefault(centre, _Centre())

    def due(self, centre: str, now: float) -> bool:
        """Whether ``centre`` may be polled at ``now`` (not backing off)."""
        return now >= self._of(centre).retry_at

    def delay_s(self, centre: str) -> float:
        """How long after its last failure the centre is asked again (0 when it answers)."""
        failures = self._of(centre).failures
        return 0.0 if failures == 0 else min(self.interval_s * 2 ** failures, self.max_backoff_s)

    def failed(self, centre: str, now: float) -> bool:
        """Note a failed poll; True exactly when the centre has just become unreachable."""
        state = self._of(centre)
        state.failures += 1
        state.retry_at = now + self.delay_s(centre)
        if not state.unreachable and state.failures >= self.failures_before_unreachable:
            state.unreachable = True
            return True
        return False

    def answered(self, centre: str) -> bool:
        """Note a poll that succeeded; True exactly when the centre was unreachable until now."""
        state = self._of(centre)
        was = state.unreachable
        self._centres[centre] = _Centre()
        return was

    def assume_unreachable(self, centre: str) -> None:
        """Start from what an earlier monitor said (its newest event): unreachable, so the first
        answer announces the centre back."""
        self._of(centre).unreachable = True

    def unreachable(self) -> list[str]:
        return sorted(name for name, state in self._centres.items() if state.unreachable)
