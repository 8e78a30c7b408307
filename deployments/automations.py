"""The automations that keep runs moving when no process holds them.

Made (or brought up to date) by name whenever the deployments are served. Two resume runs waiting
without a process (:mod:`heroes.flows.user.waiting`):

* **on the job's end**: a ``heroes.job.<final state>`` event of the site monitor names the
  suspended run as its related ``flow-run`` resource; Prefect's ``resume-flow-run`` action
  infers the run from it. The monitor follows only jobs whose run suspended, so no other run is
  resumed;
* **to look again**: a run of a HEROES job flow that has stayed suspended for
  :data:`~heroes.flows.user.waiting.LOOK_AGAIN` is resumed anyway (a proactive trigger per run:
  no later state of that run within the window). A lost event, or a monitor that is not running,
  delays a run but never strands it: resumed, it looks at its job itself and suspends again if
  the job is still running.

A third reschedules a HEROES run that a worker claimed (``Pending``) but never started within
:data:`STRANDED_AFTER`: its worker died between the two (docs/production.md), and another worker
must take it. The HEROES flows are idempotent (a job is found by its key), so a run started
late twice still submits its job once.

A fourth marks ``Crashed`` a HEROES run whose process stopped sending heartbeats (every
:data:`HEARTBEAT_S`, which the deployments set, see :data:`HEARTBEAT_ENV`) for :data:`SILENT_AFTER`
without reaching another state: its process, or the host under it, died where nobody could report
it (a worker that dies first reports nothing, and a run's process outlives its worker). Without
it, such a run stays ``Running`` forever and its user never learns. ``Crashed``, it can be retried
from the UI, and the retry finds its batch job by key rather than submitting it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final, cast

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, ResumeFlowRun
from prefect.events.schemas.automations import EventTrigger, Posture

from heroes.flows.user.entry import PUBLISH_APPLICATION, RUN_APPLICATION, RUN_JOB
from heroes.flows.user.waiting import LOOK_AGAIN
from heroes.tasks.monitor import TERMINAL_JOB_EVENTS

RESUME_ON_JOB_END: Final = "heroes-resume-on-job-end"
RESUME_TO_LOOK_AGAIN: Final = "heroes-resume-to-look-again"
RESCHEDULE_STRANDED: Final = "heroes-reschedule-stranded-runs"
CRASH_SILENT: Final = "heroes-crash-silent-runs"
STRANDED_AFTER: Final = timedelta(minutes=5)
"""A run claimed by a worker and not running after this long is given to another worker."""
HEARTBEAT_S: Final = 60
"""How often a HEROES flow-run process reports that it is alive (Prefect's least is 30 s)."""
HEARTBEAT_ENV: Final[Mapping[str, str]] = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S)}
"""The environment that makes a flow-run process send heartbeats (``prefect.yaml`` gives it too)."""
SILENT_AFTER: Final = timedelta(seconds=5 * HEARTBEAT_S)
"""A run whose process has sent no heartbeat for this long, and reached no other state, is crashed:
five missed beats, so that a process slowed by a loaded host is not taken for dead."""
# The flows whose runs suspend while their job waits: those users start from a deployment that run
# a batch job (a publication runs its functional test).
WAITING_FLOWS: Final = (RUN_JOB, RUN_APPLICATION, PUBLISH_APPLICATION)
# Any state a suspended run may reach next (resumed, cancelled, ...): one of them ends the wait.
_AFTER_SUSPENSION: Final = frozenset(f"prefect.flow-run.{name}" for name in (
    "Resuming", "Scheduled", "Pending", "Running", "AwaitingRetry", "Cancelling", "Cancelled",
    "Completed", "Failed", "Crashed", "TimedOut"))


_AFTER_PENDING: Final = frozenset(f"prefect.flow-run.{name}" for name in (
    "Running", "Scheduled", "AwaitingRetry", "Cancelling", "Cancelled", "Completed", "Failed", "Crashed"))


# Any state a running run may reach, or its next heartbeat: one of them within the window shows it alive.
_AFTER_HEARTBEAT: Final = frozenset({"prefect.flow-run.heartbeat", *_AFTER_SUSPENSION} | {
    f"prefect.flow-run.{name}" for name in ("Paused", "Suspended", "Retrying")})


_HEROES_TAG: Final[Mapping[str, str]] = {"prefect.resource.id": "prefect.tag.heroes"}


def _still_after(event: str, moved_on: frozenset[str], within: timedelta,
                 related: Mapping[str, str | list[str]]) -> EventTrigger:
    """Fire for a flow run that sent ``event`` and then none of ``moved_on`` for ``within``.

    Proactive and per run: the silence, not an event, is what shows a run stuck.
    """
    return EventTrigger(after={event}, expect=set(moved_on), within=within,
                        match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=dict(related),
                        for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1)


def wait_automations(look_again: timedelta = LOOK_AGAIN, stranded_after: timedelta = STRANDED_AFTER,
                     silent_after: timedelta = SILENT_AFTER) -> list[Automation]:
    """The automations' definitions; the windows are parameters so that tests can shorten them."""
    return [
        Automation(
            name=RESUME_ON_JOB_END,
            description="Resume a HEROES run suspended while its batch job ran, when the site monitor "
                        "reports the job's end.",
            trigger=EventTrigger(expect=set(TERMINAL_JOB_EVENTS),
                                 match={"prefect.resource.id": "heroes.job.*"},
                                 posture=Posture.Reactive, threshold=1, within=timedelta(0)),
            actions=[ResumeFlowRun()]),
        Automation(
            name=RESUME_TO_LOOK_AGAIN,
            description=f"Resume a HEROES job run suspended for {look_again} without news of its job, "
                        "so that it looks at the job itself.",
            trigger=_still_after("prefect.flow-run.Suspended", _AFTER_SUSPENSION, look_again, {
                "prefect.resource.role": "flow", "prefect.resource.name": list(WAITING_FLOWS)}),
            actions=[ResumeFlowRun()]),
        Automation(
            name=RESCHEDULE_STRANDED,
            description=f"Give a HEROES run claimed by a worker but not started within {stranded_after} "
                        "(its worker gone) to another worker.",
            trigger=_still_after("prefect.flow-run.Pending", _AFTER_PENDING, stranded_after, _HEROES_TAG),
            actions=[ChangeFlowRunState(state=StateType.SCHEDULED, name="AwaitingRetry", force=True,
                                        message="claimed by a worker that never started it: rescheduled")]),
        Automation(
            name=CRASH_SILENT,
            description=f"Mark Crashed a HEROES run whose process sent no heartbeat for {silent_after} "
                        "(its process or host died), so that it can be retried.",
            trigger=_still_after("prefect.flow-run.heartbeat", _AFTER_HEARTBEAT, silent_after, _HEROES_TAG),
            actions=[ChangeFlowRunState(
                state=StateType.CRASHED, name="Crashed", force=False,
                message=f"its process sent no heartbeat for {silent_after}: it or its host died. Retry "
                        "the run: it finds its batch job by key and does not submit it again")]),
    ]


def ensure_wait_automations(look_again: timedelta = LOOK_AGAIN, stranded_after: timedelta = STRANDED_AFTER,
                            silent_after: timedelta = SILENT_AFTER) -> list[Automation]:
    """Create the automations, or update those of the same names to these definitions."""
    made = []
    for wanted in wait_automations(look_again, stranded_after, silent_after):
        try:  # Prefect types read() as a coroutine in sync code too
            existing = cast(Automation, Automation.read(name=wanted.name))
        except ValueError:  # Prefect's word for "no automation of that name"
            made.append(cast(Automation, wanted.create()))
            continue
        existing.description, existing.trigger = wanted.description, wanted.trigger
        existing.actions, existing.enabled = wanted.actions, True
        existing.update()
        made.append(existing)
    return made


__all__ = ["CRASH_SILENT", "HEARTBEAT_ENV", "HEARTBEAT_S", "RESCHEDULE_STRANDED", "RESUME_ON_JOB_END",
           "RESUME_TO_LOOK_AGAIN", "SILENT_AFTER", "STRANDED_AFTER", "WAITING_FLOWS",
           "ensure_wait_automations", "wait_automations"]
