"""Launching a run for a verified caller: authorise, issue the grant, create the run, tag its owner.

The HEROES API (``POST /v1/deployments/{flow}/{deployment}/runs``) and the Prefect UI (its
``create_flow_run`` call, caught by :mod:`heroes.gateway.prefect_api`) both come here, so a
run is launched one way whatever the door. What the caller sends is cut down to what a user
may choose: the parameters (minus any ``grant``), a run name, their own tags, a scheduled
start. The gateway adds the rest: the deployment's defaults merged in (a grant binds the
parameters exactly as the run will hold them), the grant, the owner tags, and an
idempotency key scoped to the caller so nobody can reach another user's run by its key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Final

from heroes.flows.user.admission import granted_resource
from heroes.flows.user.entry import GRANTED_FLOWS
from heroes.gateway.ownership import caller_tags, chosen_project, owner_tags
from heroes.gateway.upstream import Upstream, UpstreamError
from heroes_core.errors import HeroesError, PermissionDeniedError, SpecError
from heroes_core.identity import Action, Identity, Reach, authorize, issue_grant, require, widest_reach
from heroes_core.identity.grants import GRANT_PARAMETER

# Fields of Prefect's create-flow-run body a user may set (the retry policy of their own run
# included); the rest (job variables, work queue, parent task run, context...) belong to
# operators and are refused when set. The Prefect UI sends a few of them empty, and the
# schema flag and labels, which the gateway leaves to the deployment.
_USER_FIELDS: Final = frozenset({"name", "parameters", "tags", "state", "idempotency_key",
                                 "empirical_policy"})
_IGNORED_FIELDS: Final = frozenset({"enforce_parameter_schema", "labels"})


def is_operator(identity: Identity) -> bool:
    """HEROES' platform operators (infrastructure, solution admins): they see Prefect whole."""
    return widest_reach(identity, Action.MANAGE_INFRASTRUCTURE) is Reach.ANY


def full_name(deployment: Mapping[str, Any]) -> str:
    """``flow/deployment``, the name a grant binds."""
    return f"{deployment['flow_name']}/{deployment['name']}"


def granted_action(deployment: Mapping[str, Any]) -> Action | None:
    """The action a deployment's runs need, or None for a flow that takes no grant (admin flows)."""
    return GRANTED_FLOWS.get(str(deployment.get("flow_name")))


def may_see(identity: Identity, deployment: Mapping[str, Any]) -> bool:
    """Whether a deployment shows in the caller's listings: theirs to launch, or they operate HEROES."""
    if is_operator(identity):
        return True
    action = granted_action(deployment)
    return action is not None and authorize(
        identity, action, granted_resource(identity, action, full_name(deployment), None)).allowed


def _deny_admin_flow(identity: Identity, deployment: Mapping[str, Any]) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"'{identity.user}' of organisation '{identity.organisation}' may not launch "
        f"{full_name(deployment)}: it is a HEROES administration workflow",
        action=Action.MANAGE_INFRASTRUCTURE.value,
        fix="user workflows are listed by GET /v1/deployments; administration workflows are launched by "
            "HEROES' infrastructure and solution administrators")


class RunRefusedError(HeroesError):
    """Prefect refused to create the run (its parameters fail the deployment's schema, say)."""

    http_status: ClassVar[int] = 409


# Prefect replaces a parameter value holding this key when it creates the run. The UI sends
# parameters typed as JSON that way ({"__prefect_kind": "json", "value": "<text>"}), which the
# gateway unwraps itself, so the run holds exactly the values the grant binds. The other kinds
# (a workspace variable's value, a Jinja template) would let a caller read what they may not,
# and are refused.
_KIND: Final = "__prefect_kind"
_REMOVED: Final = object()


def plain(value: Any) -> Any:
    """``value`` with Prefect's ``json`` and ``none`` wrappers undone, as Prefect would on creation."""
    if isinstance(value, Mapping) and _KIND in value:
        kind = value[_KIND]
        if kind not in ("json", "none"):
            raise SpecError(f"a parameter asks Prefect to fill it in ({_KIND}: {kind!r}): parameters "
                            "launched through the gateway are plain values", fix="send the value itself")
        if "value" not in value:
            return _REMOVED
        inner = plain(value["value"]) if isinstance(value["value"], Mapping) else value["value"]
        if kind == "json" and isinstance(inner, str):
            try:
                return json.loads(inner)
            except ValueError as error:
                raise SpecError(f"a parameter typed as JSON is not JSON ({error})",
                                fix="check the parameter's JSON text") from None
        return inner
    if isinstance(value, Mapping):
        return {key: item for key, item in ((key, plain(item)) for key, item in value.items())
                if item is not _REMOVED}
    if isinstance(value, list | tuple):
        return [item for item in (plain(item) for item in value) if item is not _REMOVED]
    return value


class Launcher:
    """Creates flow runs on the Prefect API for verified callers."""

    def __init__(self, upstream: Upstream, grant_key: str, ttl: timedelta) -> None:
        self.upstream = upstream
        self.grant_key = grant_key
        self.ttl = ttl

    def prepare(self, identity: Identity, deployment: Mapping[str, Any], request: Mapping[str, Any],
                project: str | None = None) -> dict[str, Any]:
        """The create-flow-run body to send upstream for ``request`` (Prefect's body shape)."""
        action = granted_action(deployment)
        if action is None:
            if not is_operator(identity):
                raise _deny_admin_flow(identity, deployment)
            return dict(request)  # an operator's run of an administration flow goes as sent
        refused = sorted(field for field in set(request) - _USER_FIELDS - _IGNORED_FIELDS if request[field])
        if refused:
            raise PermissionDeniedError(
                f"a run of {full_name(deployment)} may not set {', '.join(refused)}",
                action=action.value, fix=f"send only {', '.join(sorted(_USER_FIELDS))}")
        sent_tags = [str(tag) for tag in request.get("tags") or []]
        project = project or chosen_project(sent_tags)
        name = full_name(deployment)
        require(identity, action, granted_resource(identity, action, name, project))
        parameters = plain(request.get("parameters") or {})
        if not isinstance(parameters, Mapping):
            raise SpecError("parameters must be a JSON object", fix="send {\"parameters\": {...}}")
        merged = plain({**(deployment.get("parameters") or {}),
                        **{key: value for key, value in parameters.items() if key != GRANT_PARAMETER}})
        grant = issue_grant(identity, action, name, merged, self.grant_key, self.ttl, project=project)
        body: dict[str, Any] = {"parameters": {**merged, GRANT_PARAMETER: grant},
                                "tags": sorted(set(caller_tags(sent_tags))) + owner_tags(identity, project)}
        if request.get("name"):
            body["name"] = str(request["name"])
        if isinstance(request.get("empirical_policy"), Mapping):
            body["empirical_policy"] = dict(request["empirical_policy"])
        state = request.get("state")
        if isinstance(state, Mapping) and state.get("type") == "SCHEDULED":
            body["state"] = dict(state)
        # Scoped to the caller, so nobody reaches another user's run by its key; made up when the
        # caller sent none, so the gateway may retry the creation without making two runs.
        key = request.get("idempotency_key") or f"gateway-{uuid.uuid4()}"
        body["idempotency_key"] = f"{identity.organisation}/{identity.user}/{key}"
        return body

    async def launch(self, identity: Identity, deployment: Mapping[str, Any], request: Mapping[str, Any],
                     project: str | None = None) -> tuple[int, dict[str, Any]]:
        """Create the run: Prefect's status code and answer (the run, or why not)."""
        body = self.prepare(identity, deployment, request, project)
        response = await self.upstream.call("POST", f"/deployments/{deployment['id']}/create_flow_run",
                                            json=body)
        if response.status_code >= 500:
            raise UpstreamError(f"the Prefect API failed to create a run of {full_name(deployment)} "
                                f"({response.status_code})", site=self.upstream.api_url)
        answer: dict[str, Any] = response.json()
        if response.status_code < 300:
            self.upstream.remember_run(answer)
        return response.status_code, answer


__all__ = ["Launcher", "RunRefusedError", "full_name", "granted_action", "is_operator", "may_see", "plain"]
