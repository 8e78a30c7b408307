"""The HEROES API (``/v1``): what a user or a third-party tool does, in HEROES' own words.

Scripts and the ``heroes`` CLI call it with a bearer token; browsers with their session.
Every route acts for the verified caller only: the deployments they may launch, the runs
their role lets them read (their own, or their organisation's), those runs' logs and
artifacts, cancelling them. A run of another organisation, or one that does not exist,
answers the same 404; a role that lacks an action answers 403 naming it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from heroes.gateway.launch import Launcher, RunRefusedError, full_name, granted_action, may_see
from heroes.gateway.ownership import (
    ORGANISATION_TAG,
    PROJECT_TAG,
    USER_TAG,
    listing_tags,
    may,
    run_resource,
    tag_value,
)
from heroes.gateway.upstream import Upstream, object_id
from heroes_core.identity import Action, Identity, require
from heroes_core.identity.grants import GRANT_PARAMETER
from heroes_core.models import Name


class Problem(BaseModel):
    """Why a request was refused: what, where, and the fix."""

    detail: str
    reason: str | None = Field(default=None, description="For 401: why the token was refused.")
    action: str | None = Field(default=None, description="For 403: the action the caller may not do.")


class Me(BaseModel):
    """The verified caller."""

    user: str
    organisation: str
    projects: list[str]
    roles: list[str]
    service_account: bool


class DeploymentView(BaseModel):
    """A workflow the caller may launch."""

    id: str
    name: str = Field(description="flow/deployment, as `heroes run` takes it")
    description: str | None = None
    action: str | None = Field(description="The action launching it needs (None: an administration "
                                           "workflow).")
    parameters: dict[str, Any] = Field(description="Default parameters.")
    parameter_schema: dict[str, Any] = Field(description="JSON Schema of the parameters a user may set.")


class LaunchRequest(BaseModel):
    """What a user chooses when launching: the rest comes from who they are."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    project: Name | None = Field(default=None, description="One of the caller's projects, or none.")
    name: str | None = Field(default=None, max_length=200, description="A name for the run.")
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=20)


class RunView(BaseModel):
    """A run, as its owner sees it."""

    id: str
    name: str
    deployment: str | None
    state: str | None
    state_name: str | None
    created: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    organisation: str | None
    user: str | None
    project: str | None
    tags: list[str]


class LogLine(BaseModel):
    timestamp: datetime
    level: int
    message: str


class ArtifactView(BaseModel):
    id: str
    key: str | None
    type: str | None
    description: str | None
    data: Any = None


Identify = Callable[[Request], Awaitable[Identity]]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid access token"},
    403: {"model": Problem, "description": "The caller's roles do not allow this"},
}
_NOT_YOURS: dict[int | str, dict[str, Any]] = {
    **_REFUSALS, 404: {"model": Problem, "description": "No such run among those the caller may read"}}


def _not_found(run_id: str) -> LookupError:
    """The same answer for another organisation's run as for no run at all."""
    return LookupError(f"no run {run_id} among the runs you may read")


async def _caller(request: Request) -> Identity:
    """The verified caller, by the application's ``identify`` (set by ``create_app``)."""
    identify: Identify = request.app.state.identify
    return await identify(request)


Caller = Annotated[Identity, Depends(_caller)]


def api_router(upstream: Upstream, launcher: Launcher) -> APIRouter:
    """The ``/v1`` routes, acting for the caller ``app.state.identify`` verifies."""
    router = APIRouter(prefix="/v1", tags=["heroes"], responses=_REFUSALS)

    async def names() -> dict[str, str]:
        return {str(d["id"]): full_name(d) for d in await upstream.deployments()}

    def view(run: dict[str, Any], deployments: dict[str, str]) -> RunView:
        tags = [str(tag) for tag in run.get("tags") or []]
        state = run.get("state") or {}
        return RunView(id=str(run["id"]), name=str(run.get("name")),
                       deployment=deployments.get(str(run.get("deployment_id"))),
                       state=state.get("type"), state_name=state.get("name"), created=run.get("created"),
                       start_time=run.get("start_time"), end_time=run.get("end_time"),
                       organisation=tag_value(tags, ORGANISATION_TAG), user=tag_value(tags, USER_TAG),
                       project=tag_value(tags, PROJECT_TAG), tags=tags)

    async def readable(identity: Identity, run_id: str) -> dict[str, Any]:
        """The run, if the caller may read it; else the 404 a missing run gets."""
        checked = object_id(run_id)
        run: dict[str, Any] | None = await upstream.json("GET", f"/flow_runs/{checked}") if checked else None
        if run is None or not may(identity, Action.READ_RUNS, str(run["id"]), run.get("tags") or []):
            raise _not_found(run_id)
        upstream.remember_run(run)
        return run

    @router.get("/whoami", summary="The verified caller")
    async def whoami(identity: Caller) -> Me:
        return Me(user=identity.user, organisation=identity.organisation,
                  projects=sorted(identity.projects), roles=sorted(role.value for role in identity.roles),
                  service_account=identity.service_account)

    @router.get("/deployments", summary="The workflows the caller may launch")
    async def deployments(identity: Caller) -> list[DeploymentView]:
        return [DeploymentView(id=str(d["id"]), name=full_name(d), description=d.get("description"),
                               action=(action.value if (action := granted_action(d)) else None),
                               parameters={key: value for key, value in (d.get("parameters") or {}).items()
                                           if key != GRANT_PARAMETER},
                               parameter_schema=d.get("parameter_openapi_schema") or {})
                for d in await upstream.deployments() if may_see(identity, d)]

    @router.post("/deployments/{flow}/{deployment}/runs", status_code=201, summary="Launch a run",
                 responses={**_REFUSALS, 404: {"model": Problem, "description": "No such workflow for you"},
                            409: {"model": Problem, "description": "Prefect refused the run"}})
    async def launch(flow: str, deployment: str, request: LaunchRequest, identity: Caller) -> RunView:
        found = await upstream.deployment_by_name(flow, deployment)
        if found is None or not may_see(identity, found):
            raise LookupError(f"no workflow {flow}/{deployment} that you may launch "
                              "(GET /v1/deployments lists them)")
        status, answer = await launcher.launch(identity, found, request.model_dump(exclude={"project"}),
                                               request.project)
        if status >= 300:
            raise RunRefusedError(f"Prefect refused the run of {flow}/{deployment}: "
                                  f"{answer.get('detail', answer)}", site="prefect",
                                  fix="check the parameters against GET /v1/deployments' parameter_schema")
        return view(answer, {str(found["id"]): full_name(found)})

    @router.get("/runs", summary="The runs the caller may read, newest first")
    async def runs(identity: Caller, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> list[RunView]:
        tags = listing_tags(identity)
        found = await upstream.json("POST", "/flow_runs/filter", json={
            "flow_runs": {"operator": "and_", "tags": {"operator": "and_", "all_": tags}},
            "sort": "EXPECTED_START_TIME_DESC", "limit": limit, "offset": offset}) or []
        deployment_names = await names()
        return [view(run, deployment_names) for run in found]

    @router.get("/runs/{run_id}", summary="One run", responses=_NOT_YOURS)
    async def run(run_id: str, identity: Caller) -> RunView:
        return view(await readable(identity, run_id), await names())

    @router.get("/runs/{run_id}/logs", summary="A run's logs, oldest first", responses=_NOT_YOURS)
    async def logs(run_id: str, identity: Caller,
                   limit: Annotated[int, Query(ge=1, le=200)] = 200) -> list[LogLine]:
        found = await readable(identity, run_id)
        lines = await upstream.json("POST", "/logs/filter", json={
            "logs": {"flow_run_id": {"any_": [str(found["id"])]}}, "sort": "TIMESTAMP_ASC",
            "limit": limit}) or []
        return [LogLine(timestamp=line["timestamp"], level=line["level"], message=line["message"])
                for line in lines]

    @router.get("/runs/{run_id}/artifacts", summary="A run's artifacts (tables, markdown, links)",
                responses=_NOT_YOURS)
    async def artifacts(run_id: str, identity: Caller) -> list[ArtifactView]:
        found = await readable(identity, run_id)
        listed = await upstream.json("POST", "/artifacts/filter", json={
            "artifacts": {"flow_run_id": {"any_": [str(found["id"])]}}, "limit": 200}) or []
        return [ArtifactView(id=str(a["id"]), key=a.get("key"), type=a.get("type"),
                             description=a.get("description"), data=a.get("data")) for a in listed]

    @router.post("/runs/{run_id}/cancel", status_code=202, summary="Cancel a run", responses=_NOT_YOURS)
    async def cancel(run_id: str, identity: Caller) -> RunView:
        found = await readable(identity, run_id)
        resource = run_resource(str(found["id"]), found.get("tags") or [])
        if resource is None:  # cannot be: readable runs have owners
            raise _not_found(run_id)
        require(identity, Action.CANCEL_RUN, resource)
        await upstream.json("POST", f"/flow_runs/{found['id']}/set_state",
                            json={"state": {"type": "CANCELLING", "name": "Cancelling",
                                            "message": f"cancelled by {identity.user} through the HEROES "
                                                       "gateway"}})
        return view(await upstream.json("GET", f"/flow_runs/{found['id']}") or found, await names())

    return router


__all__ = ["ArtifactView", "DeploymentView", "LaunchRequest", "LogLine", "Me", "Problem", "RunView",
           "api_router"]
