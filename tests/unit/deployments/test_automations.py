"""The automations that resume suspended job runs: what they wait for and whom they resume."""

from __future__ import annotations

from datetime import timedelta

from prefect.events.actions import ResumeFlowRun
from prefect.events.schemas.automations import EventTrigger, Posture

from heroes.deployments.automations import RESUME_ON_JOB_END, RESUME_TO_LOOK_AGAIN, wait_automations
from heroes.tasks.monitor import TERMINAL_JOB_EVENTS


def test_a_job_ending_resumes_the_run_named_in_its_event_whatever_the_final_state() -> None:
    on_end = {a.name: a for a in wait_automations()}[RESUME_ON_JOB_END]
    trigger = on_end.trigger
    assert isinstance(trigger, EventTrigger) and trigger.posture == Posture.Reactive
    assert trigger.expect == set(TERMINAL_JOB_EVENTS) and "heroes.job.completed" in trigger.expect
    assert "heroes.job.running" not in trigger.expect  # a job still running resumes nothing
    assert [type(action) for action in on_end.actions] == [ResumeFlowRun]


def test_a_run_suspended_without_news_for_the_window_is_resumed_to_look_for_itself() -> None:
    look = {a.name: a for a in wait_automations(timedelta(minutes=5))}[RESUME_TO_LOOK_AGAIN]
    trigger = look.trigger
    assert isinstance(trigger, EventTrigger) and trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.Suspended"} and trigger.within == timedelta(minutes=5)
    assert "prefect.flow-run.Running" in trigger.expect and "prefect.flow-run.Suspended" not in trigger.expect
    assert trigger.for_each == {"prefect.resource.id"}  # one window per suspended run
    assert [type(action) for action in look.actions] == [ResumeFlowRun]


def test_a_heroes_run_claimed_but_never_started_is_given_back_to_the_pool() -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState

    from heroes.deployments.automations import RESCHEDULE_STRANDED

    stranded = {a.name: a for a in wait_automations(stranded_after=timedelta(minutes=3))}[RESCHEDULE_STRANDED]
    trigger = stranded.trigger
    assert isinstance(trigger, EventTrigger) and trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.Pending"} and "prefect.flow-run.Running" in trigger.expect
    assert trigger.within == timedelta(minutes=3) and trigger.for_each == {"prefect.resource.id"}
    [action] = stranded.actions
    assert isinstance(action, ChangeFlowRunState) and action.state == StateType.SCHEDULED


def test_a_heroes_run_silent_past_the_window_is_crashed_unless_it_moved_on() -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.events import ResourceSpecification

    from heroes.deployments.automations import CRASH_SILENT, HEARTBEAT_S, SILENT_AFTER

    silent = {a.name: a for a in wait_automations(silent_after=timedelta(minutes=4))}[CRASH_SILENT]
    trigger = silent.trigger
    assert isinstance(trigger, EventTrigger) and trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.heartbeat"} and trigger.within == timedelta(minutes=4)
    assert trigger.for_each == {"prefect.resource.id"}  # one window per run
    assert isinstance(trigger.match_related, ResourceSpecification)
    assert trigger.match_related.root == {"prefect.resource.id": "prefect.tag.heroes"}  # HEROES runs only
    # the next beat, or any state the run may move to (suspended to wait, paused for an answer, ended)
    for alive in ("heartbeat", "Suspended", "Paused", "Completed", "Failed", "Cancelling", "AwaitingRetry"):
        assert f"prefect.flow-run.{alive}" in trigger.expect, alive
    [action] = silent.actions
    assert isinstance(action, ChangeFlowRunState) and action.state == StateType.CRASHED
    assert action.force is False  # a run that ended meanwhile keeps its final state
    assert timedelta(seconds=3 * HEARTBEAT_S) <= SILENT_AFTER  # a slow beat is not a dead process
