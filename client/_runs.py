"""Workflows from Python: launch a deployment as yourself, follow its run to its end, read its logs.

The gateway issues each run's grant from the caller's token, so a run launched here runs as
the user the client's token names, in the project they choose. Run ids are Prefect's flow-run
ids (UUIDs); every method that takes one also takes the :class:`RunView` a launch returned.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from heroes.client._errors import ApiError

if TYPE_CHECKING:
    from heroes.client._api import HeroesClient

# The user deployments, as "flow/deployment" (heroes.flows.user.entry names the flows and
# heroes.deployments the deployments; the SDK does not import the Prefect layer).
RUN_JOB: Final = "run-job/run-job"
RUN_APPLICATION: Final = "run-application/run-application"
RUN_WORKFLOW: Final = "run-workflow/run-workflow"
PUBLISH_APPLICATION: Final = "publish-application/publish-application"
UNPUBLISH_APPLICATION: Final = "unpublish-application/unpublish-application"

NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
FINAL_STATES: Final = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
PAUSED: Final = "PAUSED"
# Answers worth polling through while waiting: the gateway or Prefect restarting, a dropped connection.
TRANSIENT: Final = frozenset({0, 502, 503, 504})


class DeploymentView(BaseModel):
    """A workflow the caller may launch."""

    id: str
    name: str = Field(description="flow/deployment, as launch takes it")
    description: str | None = None
    action: str | None = Field(default=None, description="The action launching it needs.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Default parameters.")
    parameter_schema: dict[str, Any] = Field(default_factory=dict,
                                             description="JSON Schema of the parameters a user may set.")


class RunView(BaseModel):
    """A run, as its owner sees it; ``state`` is Prefect's state type (``COMPLETED``, ``PAUSED``...)."""

    id: str
    name: str
    deployment: str | None = None
    state: str | None = None
    state_name: str | None = None
    created: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    organisation: str | None = None
    user: str | None = None
    project: str | None = None
    tags: list[str] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        """In a final state: completed, failed, crashed or cancelled."""
        return self.state in FINAL_STATES

    @property
    def paused(self) -> bool:
        """Waiting for an answer (a placement to accept, a budget to raise) in the Prefect UI."""
        return self.state == PAUSED

    @property
    def completed(self) -> bool:
        return self.state == "COMPLETED"


class LogLine(BaseModel):
    timestamp: datetime
    level: int
    message: str


class ArtifactView(BaseModel):
    id: str
    key: str | None = None
    type: str | None = None
    description: str | None = None
    data: Any = None


class RunTimeoutError(TimeoutError):
    """A run did not reach a final state (or pause) in time; it goes on. ``run``: how it was last seen."""

    def __init__(self, message: str, run: RunView | None) -> None:
        super().__init__(message)
        self.run = run


Model = TypeVar("Model")


def split_deployment(deployment: str) -> tuple[str, str]:
    """``flow/deployment`` as its two names, or ValueError saying what a name may hold."""
    names = deployment.split("/")
    if len(names) != 2 or not all(NAME.fullmatch(part) for part in names):
        raise ValueError(f"{deployment!r} is not flow/deployment (e.g. run-job/run-job): two names of "
                         "letters, digits and ._-")
    return names[0], names[1]


def launch_body(parameters: Mapping[str, Any] | None, project: str | None, name: str | None,
                tags: Sequence[str] = ()) -> dict[str, Any]:
    """The launch request's JSON body; ValueError for numbers JSON cannot carry (NaN, infinities)."""
    body: dict[str, Any] = {"parameters": dict(parameters or {}), "project": project, "name": name}
    if tags:
        body["tags"] = list(tags)
    try:
        json.dumps(body, allow_nan=False)
    except ValueError as error:
        raise ValueError("Parameters must be finite numbers: NaN, Infinity and numbers too large for JSON "
                         "are refused.") from error
    return body


def run_id(run: RunView | str) -> str:
    """The flow-run id of ``run``, checked to be one (a UUID), so it cannot change the request's path."""
    given = run.id if isinstance(run, RunView) else run
    try:
        return str(uuid.UUID(given))
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{given!r} is not a run id (a flow run's UUID)") from error


class RunsClient:
    """Launch workflows through the gateway and follow their runs (``heroes run`` as Python)."""

    def __init__(self, client: HeroesClient, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._clock = clock
        self._sleep = sleep

    def deployments(self) -> list[DeploymentView]:
        """The workflows you may launch, with their default parameters and parameter schemas."""
        answer = self.client.call("GET", "/v1/deployments")
        return self._parse(list[DeploymentView], answer, 200, "deployments")

    def launch(self, deployment: str, parameters: Mapping[str, Any] | None = None, *,
               project: str | None = None, name: str | None = None, tags: Sequence[str] = ()) -> RunView:
        """Start ``deployment`` ("flow/deployment") with ``parameters``, in ``project`` if given; the
        run it created (scheduled: :meth:`wait` follows it)."""
        flow, deployment_name = split_deployment(deployment)
        body = launch_body(parameters, project, name, tags)
        answer = self.client.call("POST", f"/v1/deployments/{flow}/{deployment_name}/runs", json=body,
                                  expect=(201,))
        return self._parse(RunView, answer, 201, "a run")

    def get(self, run: RunView | str) -> RunView:
        return self._parse(RunView, self.client.call("GET", f"/v1/runs/{run_id(run)}"), 200, "a run")

    def ls(self, *, limit: int = 50, offset: int = 0) -> list[RunView]:
        """The runs you may read (yours, or your organisation's for its admins), newest first."""
        answer = self.client.call("GET", "/v1/runs", params={"limit": str(limit), "offset": str(offset)})
        return self._parse(list[RunView], answer, 200, "runs")

    def logs(self, run: RunView | str, *, limit: int = 200) -> list[LogLine]:
        """The run's log lines, oldest first (Prefect may ship the last ones shortly after its end)."""
        answer = self.client.call("GET", f"/v1/runs/{run_id(run)}/logs", params={"limit": str(limit)})
        return self._parse(list[LogLine], answer, 200, "log lines")

    def artifacts(self, run: RunView | str) -> list[ArtifactView]:
        answer = self.client.call("GET", f"/v1/runs/{run_id(run)}/artifacts")
        return self._parse(list[ArtifactView], answer, 200, "artifacts")

    def cancel(self, run: RunView | str) -> RunView:
        """Ask for the run to be cancelled (its batch job too); it ends CANCELLED shortly after."""
        answer = self.client.call("POST", f"/v1/runs/{run_id(run)}/cancel", expect=(202,))
        return self._parse(RunView, answer, 202, "a run")

    def wait(self, run: RunView | str, *, timeout_s: float = 3600.0, poll_s: float = 2.0) -> RunView:
        """The run once it is final (COMPLETED, FAILED, CRASHED, CANCELLED) or PAUSED.

        A paused run waits for an answer (a placement to accept, a budget to raise): it is returned
        as it is, check ``.paused``, answer it, then wait again. After ``timeout_s`` seconds without
        either, :class:`RunTimeoutError` (the run itself goes on). Refusals (401, 403, 404) raise
        :class:`ApiError` at once, as does a gateway that cannot be reached at the first poll; once
        it has answered, a gateway briefly unreachable or answering 502-504 is polled through.
        """
        checked = run_id(run)
        deadline = self._clock() + timeout_s
        seen: RunView | None = None
        trouble = ""
        while True:
            try:
                seen = self.get(checked)
            except ApiError as error:
                if seen is None or error.status not in TRANSIENT:
                    raise
                trouble = f" (the last poll: {error})"
            else:
                trouble = ""
                if seen.finished or seen.paused:
                    return seen
            left = deadline - self._clock()
            if left <= 0:
                raise RunTimeoutError(self._still(checked, seen, timeout_s) + trouble, seen)
            self._sleep(min(poll_s, left))

    @staticmethod
    def _still(checked: str, seen: RunView | None, timeout_s: float) -> str:
        what = f"run {seen.name} ({checked})" if seen else f"run {checked}"
        state = (seen.state_name or seen.state) if seen else None
        return (f"{what} is still {state or 'not final'} after {timeout_s:g} s; it goes on. Fix: wait "
                f"again (client.runs.wait({checked!r})) or cancel it (client.runs.cancel({checked!r}))")

    def _parse(self, model: type[Model], answer: Any, status: int, what: str) -> Model:
        """``answer`` as ``model``, or :class:`ApiError` saying the gateway answered something else."""
        try:
            return TypeAdapter(model).validate_python(answer)
        except ValidationError as error:
            shown = json.dumps(answer, default=str)[:200]
            raise ApiError(status, f"the gateway at {self.client.url} answered {status} without {what} "
                                   f"({shown}): is it a HEROES gateway?") from error


__all__ = ["FINAL_STATES", "PUBLISH_APPLICATION", "RUN_APPLICATION", "RUN_JOB", "RUN_WORKFLOW",
           "UNPUBLISH_APPLICATION", "ArtifactView", "DeploymentView", "LogLine", "RunTimeoutError", "RunView",
           "RunsClient", "launch_body", "run_id", "split_deployment"]
