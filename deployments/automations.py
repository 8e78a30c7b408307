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
"""

from __future__ import annotations

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
STRANDED_AFTER: Final = timedelta(minutes=5)
"""A run claimed by a worker and not running after this long is given to another worker."""
# The flows whose runs suspend while their job waits: those users start from a deployment that run
# a batch job (a publication runs its functional test).
WAITING_FLOWS: Final = (RUN_JOB, RUN_APPLICATION, PUBLISH_APPLICATION)
# Any state a suspended run may reach next (resumed, cancelled, ...): one of them ends the wait.
_AFTER_SUSPENSION: Final = frozenset(f"prefect.flow-run.{name}" for name in (
    "Resuming", "Scheduled", "Pending", "Running", "AwaitingRetry", "Cancelling", "Cancelled",
    "Completed", "Failed", "Crashed", "TimedOut"))


_AFTER_PENDING: Final = frozenset(f"prefect.flow-run.{name}" for name in (
    "Running", "Scheduled", "AwaitingRetry", "Cancelling", "Cancelled", "Completed", "Failed", "Crashed"))


def wait_automations(look_again: timedelta = LOOK_AGAIN,
                     stranded_after: timedelta = STRANDED_AFTER) -> list[Automation]:
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
            trigger=EventTrigger(
                after={"prefect.flow-run.Suspended"}, expect=set(_AFTER_SUSPENSION),
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "flow", "prefect.resource.name": list(WAITING_FLOWS)},
                for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1, within=look_again),
            actions=[ResumeFlowRun()]),
        Automation(
            name=RESCHEDULE_STRANDED,
            description=f"Give a HEROES run claimed by a worker but not started within {stranded_after} "
                        "(its worker gone) to another worker.",
            trigger=EventTrigger(
                after={"prefect.flow-run.Pending"}, expect=set(_AFTER_PENDING),
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.id": "prefect.tag.heroes"},
                for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                within=stranded_after),
            actions=[ChangeFlowRunState(state=StateType.SCHEDULED, name="AwaitingRetry", force=True,
                                        message="claimed by a worker that never started it: rescheduled")]),
    ]


def ensure_wait_automations(look_again: timedelta = LOOK_AGAIN,
                            stranded_after: timedelta = STRANDED_AFTER) -> list[Automation]:
    """Create the automations, or update those of the same names to these definitions."""
    made = []
    for wanted in wait_automations(look_again, stranded_after):
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


__all__ = ["RESCHEDULE_STRANDED", "RESUME_ON_JOB_END", "RESUME_TO_LOOK_AGAIN", "STRANDED_AFTER",
           "WAITING_FLOWS", "ensure_wait_automations", "wait_automations"]
