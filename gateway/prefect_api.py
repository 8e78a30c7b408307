"""The Prefect API as the Prefect UI sees it through the gateway: only the caller's organisation.

The Prefect UI talks to ``<gateway>/api``; every call comes here with the caller's verified
identity. HEROES' operators (infrastructure and solution administrators) reach Prefect
whole. Everybody else gets a default-deny view, rule by rule (:data:`RULES`, a table a
reviewer can hold against Prefect's REST API):

* listings of runs, task runs and artifacts are filtered by the owner tags
  (:mod:`heroes.gateway.ownership`), forced into the query so a caller's own filter can
  narrow it but never widen it (every operator is forced to ``and_``);
* listings of deployments and flows are cut down to those the caller may launch;
* one run, task run, artifact or deployment is fetched, then shown only if it is visible,
  else answered 404 exactly as a missing one (nothing tells another organisation's run from
  no run);
* logs are read per flow run, each run checked;
* creating a run goes through :class:`~heroes.gateway.launch.Launcher` (grant and owner
  tags injected); changing a run's state is only cancelling it, if the role may;
* anything else (blocks and their secrets, variables, work pools, automations, events,
  deletes, updates) is refused with 403.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from heroes.gateway.launch import Launcher, is_operator, may_see, plain
from heroes.gateway.ownership import listing_tags, may, run_resource
from heroes.gateway.upstream import Upstream, object_id
from heroes_core.errors import PermissionDeniedError
from heroes_core.identity import Action, Identity, authorize, require

_UUID: Final = r"[0-9a-fA-F-]{36}"
_NOT_FOUND: Final = {"detail": "Not found."}
# Request headers never passed on: the gateway's own credentials, and what httpx sets itself.
_DROPPED: Final = frozenset({"host", "cookie", "authorization", "content-length", "connection",
                             "accept-encoding", "transfer-encoding"})

Handler = Callable[["PrefectApi", Request, Identity, re.Match[str]], Awaitable[Response]]


@dataclass(frozen=True)
class Rule:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    why: str


class PrefectApi:
    """Applies :data:`RULES` to one request under ``/api``."""

    def __init__(self, upstream: Upstream, launcher: Launcher) -> None:
        self.upstream = upstream
        self.launcher = launcher

    async def handle(self, request: Request, identity: Identity, path: str) -> Response:
        if is_operator(identity) and not path.endswith("/create_flow_run"):
            return await self.forward(request, path)
        for rule in RULES:
            match = rule.pattern.fullmatch(path)
            if match and rule.method == request.method:
                return await rule.handler(self, request, identity, match)
        raise PermissionDeniedError(
            f"'{identity.user}' of organisation '{identity.organisation}' may not call "
            f"{request.method} /api/{path} through the HEROES gateway",
            action="prefect-api",
            fix="the gateway passes the Prefect API calls its UI needs to see and launch your "
                "organisation's runs; administration is for HEROES operators")

    async def forward(self, request: Request, path: str, body: Any = ...) -> Response:
        """Send the request on (with ``body`` instead of the caller's, if given) and answer as Prefect did."""
        headers = {key: value for key, value in request.headers.items() if key.lower() not in _DROPPED}
        content = await request.body() if body is ... else json.dumps(body).encode()
        response = await self.upstream.call(request.method, f"/{path}", params=request.query_params,
                                            content=content, headers=headers)
        return Response(response.content, status_code=response.status_code,
                        media_type=response.headers.get("content-type"))

    async def body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise PermissionDeniedError("the request body is not a JSON object", action="prefect-api")
        return parsed

    async def run_visible(self, identity: Identity, run_id: object,
                          action: Action = Action.READ_RUNS) -> bool:
        checked = object_id(run_id)
        tags = await self.upstream.run_tags(checked) if checked else None
        return checked is not None and tags is not None and may(identity, action, checked, tags)

    async def visible_deployment_ids(self, identity: Identity) -> list[str]:
        return [str(d["id"]) for d in await self.upstream.deployments() if may_see(identity, d)]

    async def visible_flow_names(self, identity: Identity) -> list[str]:
        deployments = await self.upstream.deployments()
        return sorted({str(d["flow_name"]) for d in deployments if may_see(identity, d)})


def _section(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``body[key]`` as a dict (absent: empty); anything else is not a Prefect filter."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PermissionDeniedError(f"'{key}' in the request body is not a Prefect filter",
                                    action="prefect-api")
    return dict(value)


def _narrowed(body: dict[str, Any], key: str, field: str, condition: str, allowed: list[str]) -> None:
    """Force ``body[key][field][condition]`` to within ``allowed``, combined with ``and_``.

    ``all_`` (tags) adds the required values to any the caller asked for; ``any_`` (ids,
    names) keeps only the allowed ones among those asked, or all the allowed if none were.
    Only Prefect's tag filters have an ``operator`` of their own; every section has one.
    """
    section = _section(body, key)
    sub = _section(section, field)
    asked = sub.get(condition)
    if asked is not None and not isinstance(asked, list):
        raise PermissionDeniedError(f"'{key}.{field}.{condition}' is not a list", action="prefect-api")
    if condition == "all_":
        sub["all_"] = [*(asked or []), *allowed]
        sub["operator"] = "and_"
    else:
        sub[condition] = [value for value in asked if value in allowed] if asked is not None else allowed
    section[field], section["operator"] = sub, "and_"
    body[key] = section


async def _pass(api: PrefectApi, request: Request, identity: Identity, match: re.Match[str]) -> Response:
    return await api.forward(request, match.string)


def _scope_runs(identity: Identity, body: dict[str, Any]) -> None:
    _narrowed(body, "flow_runs", "tags", "all_", listing_tags(identity))


async def _runs_listing(api: PrefectApi, request: Request, identity: Identity,
                        match: re.Match[str]) -> Response:
    body = await api.body(request)
    _scope_runs(identity, body)
    response = await api.forward(request, match.string, body)
    if response.status_code == 200 and match.string in ("flow_runs/filter", "flow_runs/paginate"):
        # The UI asks next about the runs it just listed: their owners are known now.
        listed = json.loads(bytes(response.body))
        for run in listed.get("results", []) if isinstance(listed, dict) else listed:
            api.upstream.remember_run(run)
    return response


async def _validate(api: PrefectApi, request: Request, identity: Identity, match: re.Match[str]) -> Response:
    # Prefect fills workspace variables into the values it validates (and its errors may quote
    # them): the values go as plain JSON, the UI's own JSON wrappers undone as at launch.
    body = await api.body(request)
    body["values"] = plain(body.get("values") or {})
    return await api.forward(request, match.string, body)


async def _task_run_counts(api: PrefectApi, request: Request, identity: Identity,
                           match: re.Match[str]) -> Response:
    body = await api.body(request)
    asked = body.get("flow_run_ids")
    if not isinstance(asked, list):
        raise PermissionDeniedError("'flow_run_ids' is not a list", action="prefect-api")
    body["flow_run_ids"] = [run for run in asked if await api.run_visible(identity, run)]
    return await api.forward(request, match.string, body)


def _nothing(answer: Any) -> Handler:
    """Answer a listing the UI shows in passing with an empty one: nothing there is a user's."""
    async def handler(api: PrefectApi, request: Request, identity: Identity,
                      match: re.Match[str]) -> Response:
        return JSONResponse(answer)
    return handler


async def _deployments_listing(api: PrefectApi, request: Request, identity: Identity,
                               match: re.Match[str]) -> Response:
    body = await api.body(request)
    _narrowed(body, "deployments", "id", "any_", await api.visible_deployment_ids(identity))
    if body.get("flow_runs"):
        _scope_runs(identity, body)
    return await api.forward(request, match.string, body)


async def _flows_listing(api: PrefectApi, request: Request, identity: Identity,
                         match: re.Match[str]) -> Response:
    body = await api.body(request)
    _narrowed(body, "flows", "name", "any_", await api.visible_flow_names(identity))
    return await api.forward(request, match.string, body)


async def _one_run(api: PrefectApi, request: Request, identity: Identity, match: re.Match[str]) -> Response:
    if not await api.run_visible(identity, match.group("run")):
        return JSONResponse(_NOT_FOUND, status_code=404)
    return await api.forward(request, match.string)


async def _run_states(api: PrefectApi, request: Request, identity: Identity,
                      match: re.Match[str]) -> Response:
    if not await api.run_visible(identity, request.query_params.get("flow_run_id")):
        return JSONResponse(_NOT_FOUND, status_code=404)
    return await api.forward(request, match.string)


def _shown_if(visible: Callable[[PrefectApi, Identity, dict[str, Any]], Awaitable[bool]]) -> Handler:
    """Fetch one object, then show it only if ``visible`` says so; else 404, as for no object."""
    async def handler(api: PrefectApi, request: Request, identity: Identity,
                      match: re.Match[str]) -> Response:
        response = await api.forward(request, match.string)
        if response.status_code != 200:
            return response
        if not await visible(api, identity, json.loads(bytes(response.body))):
            return JSONResponse(_NOT_FOUND, status_code=404)
        return response
    return handler


async def _of_a_visible_run(api: PrefectApi, identity: Identity, found: dict[str, Any]) -> bool:
    return await api.run_visible(identity, found.get("flow_run_id"))


async def _launchable(api: PrefectApi, identity: Identity, found: dict[str, Any]) -> bool:
    return may_see(identity, {**found, "flow_name": await api.upstream.flow_name(str(found.get("flow_id")))})


async def _logs(api: PrefectApi, request: Request, identity: Identity, match: re.Match[str]) -> Response:
    body = await api.body(request)
    logs = _section(body, "logs")
    runs = _section(logs, "flow_run_id").get("any_")
    if not runs or not isinstance(runs, list):
        raise PermissionDeniedError("logs are read one flow run at a time through the HEROES gateway",
                                    action=Action.READ_RUNS.value,
                                    fix="filter the logs by flow_run_id (any_: [ids of your runs])")
    for run in runs:
        if not await api.run_visible(identity, run):
            return JSONResponse(_NOT_FOUND, status_code=404)
    logs["operator"] = "and_"
    body["logs"] = logs
    return await api.forward(request, match.string, body)


async def _create_run(api: PrefectApi, request: Request, identity: Identity,
                      match: re.Match[str]) -> Response:
    deployment = await api.upstream.deployment(match.group("deployment"))
    if deployment is None or not may_see(identity, deployment):
        return JSONResponse(_NOT_FOUND, status_code=404)
    status, answer = await api.launcher.launch(identity, deployment, await api.body(request))
    return JSONResponse(answer, status_code=status)


async def _set_state(api: PrefectApi, request: Request, identity: Identity, match: re.Match[str]) -> Response:
    body = await api.body(request)
    state = body.get("state") if isinstance(body.get("state"), Mapping) else {}
    if (state or {}).get("type") != "CANCELLING":
        raise PermissionDeniedError("through the HEROES gateway a run's state changes only to Cancelling",
                                    action=Action.CANCEL_RUN.value, fix="cancel the run, or launch a new one")
    return await _controlled(api, request, identity, match, body)


async def _controlled(api: PrefectApi, request: Request, identity: Identity, match: re.Match[str],
                      body: Any = ...) -> Response:
    run_id = match.group("run")
    tags = await api.upstream.run_tags(run_id)
    resource = run_resource(run_id, tags) if tags is not None else None
    if resource is None or not authorize(identity, Action.READ_RUNS, resource).allowed:
        return JSONResponse(_NOT_FOUND, status_code=404)
    require(identity, Action.CANCEL_RUN, resource)
    return await api.forward(request, match.string, body)


def _rule(method: str, pattern: str, handler: Handler, why: str) -> Rule:
    return Rule(method, re.compile(pattern.replace("{run}", f"(?P<run>{_UUID})").replace("{id}", _UUID)
                                   .replace("{deployment}", f"(?P<deployment>{_UUID})")), handler, why)


RULES: Final[tuple[Rule, ...]] = (
    _rule("GET", r"health|version|admin/version|csrf-token", _pass, "server liveness and version"),
    _rule("POST", r"flow_runs/(filter|count|paginate|history)|ui/flow_runs/history", _runs_listing,
          "run listings: owner tags forced"),
    _rule("POST", r"task_runs/(filter|count|history|paginate)|ui/task_runs/(count|dashboard/counts)",
          _runs_listing, "task runs: only those of visible flow runs"),
    _rule("POST", r"artifacts/(latest/)?(filter|count)", _runs_listing, "artifacts of visible flow runs"),
    _rule("POST", r"deployments/(filter|count|paginate)", _deployments_listing, "deployments one may launch"),
    _rule("POST", r"flows/(filter|count|paginate)", _flows_listing, "flows of deployments one may launch"),
    _rule("GET", r"flows/{id}", _pass, "a flow's name and id"),
    _rule("GET", r"flow_runs/{run}(/graph|/graph-v2)?", _one_run, "one visible run"),
    _rule("GET", r"flow_run_states/?", _run_states, "the states of one visible run"),
    _rule("GET", r"task_runs/{id}", _shown_if(_of_a_visible_run), "a task run of a visible run"),
    _rule("GET", r"artifacts/{id}", _shown_if(_of_a_visible_run), "an artifact of a visible run"),
    _rule("GET", r"deployments/{id}", _shown_if(_launchable), "a deployment one may launch"),
    _rule("POST", r"logs/filter", _logs, "the logs of visible runs, named"),
    _rule("POST", r"deployments/{deployment}/create_flow_run", _create_run,
          "launch: grant and owner tags injected"),
    _rule("POST", r"flow_runs/{run}/set_state", _set_state, "cancel a run the role may cancel"),
    _rule("POST", r"flow_runs/{run}/resume", _controlled, "answer a paused run one may cancel"),
    _rule("POST", r"ui/flow_runs/count-task-runs", _task_run_counts, "task-run counts of visible runs"),
    _rule("POST", r"ui/schemas/validate", _validate, "check parameters against a schema, values plain"),
    _rule("POST", r"events/filter", _nothing({"events": [], "total": 0, "next_page": None}),
          "events are the platform's: none shown to users"),
    _rule("GET", r"automations/related-to/.+", _nothing([]), "automations are operators'"),
)


__all__ = ["RULES", "PrefectApi", "Rule"]
