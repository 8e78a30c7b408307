"""Admission: a user-facing run does nothing until a valid grant says who runs it.

Anybody who reaches the Prefect API can create a flow run with any parameters. So the
user-facing flows take no organisation, user or project: before their first step they
:func:`admit` the run, which

1. verifies the ``grant`` parameter with the grant key (the Prefect ``Secret`` block
   :data:`~heroes.blocks.defaults.DEFAULT_GRANT_KEY`): signed by the gateway, not expired,
   issued for this deployment and for exactly the parameters the Prefect API holds for
   this run (read back from the API, as the runner will run them);
2. checks the actions table again for the grant's identity (defence in depth: the gateway
   authorised it already);
3. claims the grant for this flow run in the project database: a retry or a resumed crash
   of the same run goes on (even once the grant has expired: it was admitted in time), any
   other run with the same grant is refused as a replay.

Any failure raises a :class:`~heroes_core.errors.GrantError` (or
:class:`~heroes_core.errors.PermissionDeniedError`) whose message says what and the fix:
the run fails at entry with nothing reserved, staged or submitted.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import deployment as current_deployment
from prefect.runtime import flow_run as current_run

from heroes.blocks.defaults import DEFAULT_DATABASE, DEFAULT_GRANT_KEY
from heroes.tasks.resolve import load_block, load_database
from heroes_core.errors import GrantError, GrantExpiredError, GrantKeyError
from heroes_core.identity import (
    Action,
    Grant,
    Identity,
    Resource,
    ResourceKind,
    read_grant,
    require,
    verify_grant,
)
from heroes_core.identity.grant_ledger import GrantLedger

# The kind of resource each action a user-facing deployment needs is about.
_KINDS = {Action.SUBMIT_WORKFLOW: ResourceKind.WORKFLOW, Action.BILLING: ResourceKind.BILLING,
          Action.PUBLISH_APPLICATION: ResourceKind.APPLICATION}


def granted_resource(identity: Identity, action: Action, deployment: str, project: str | None) -> Resource:
    """What a grant for ``action`` on ``deployment`` is about, in the caller's organisation.

    The gateway authorises this resource before it issues a grant, and :func:`admit` checks
    it again: both ask the same question.
    """
    return Resource(kind=_KINDS[action], organisation=identity.organisation, id=deployment, project=project)


def grant_key(name: str = DEFAULT_GRANT_KEY) -> str:
    """The key grants are signed with, from its Secret block."""
    try:
        secret = load_block(Secret, name)
    except ValueError:
        raise GrantKeyError(f"the grant key's Secret block '{name}' does not exist, so no run can be "
                            "admitted", fix=f"create a Secret block '{name}' holding a random key of 32 "
                                             "bytes or more, the one the gateway signs grants with") from None
    return str(secret.get())


def deployment_name() -> str:
    """``flow/deployment`` of the running flow run (what a grant names), or a placeholder."""
    return f"{current_run.flow_name}/{current_deployment.name or '(started without a deployment)'}"


def run_parameters(flow_run_id: str) -> dict[str, Any]:
    """The parameters the Prefect API holds for this run: what its creator sent, as JSON."""
    with get_client(sync_client=True) as client:
        return dict(client.read_flow_run(UUID(flow_run_id)).parameters)


def admit(grant: str, action: Action) -> Grant:
    """Let this flow run start under the grant's identity, or fail it here (see the module docstring)."""
    flow_run_id = str(current_run.id)
    deployment = deployment_name()
    key, parameters = grant_key(), run_parameters(flow_run_id)
    ledger = GrantLedger(load_database(DEFAULT_DATABASE).database())
    try:
        verified = verify_grant(grant, deployment, parameters, key)
    except GrantExpiredError:
        # A retried or resumed run was admitted while its grant was valid: it goes on.
        earlier = read_grant(grant, key)
        if ledger.claimed_by(earlier.nonce) != flow_run_id:
            raise
        verified = verify_grant(grant, deployment, parameters, key, now=earlier.issued_at)
    require(verified.identity, action,
            granted_resource(verified.identity, action, deployment, verified.project))
    ledger.claim(verified, flow_run_id)
    get_run_logger().info("Run admitted for user '%s' of organisation '%s'%s (grant issued %s UTC)",
                          verified.identity.user, verified.identity.organisation,
                          f", project '{verified.project}'" if verified.project else "",
                          f"{verified.issued_at:%Y-%m-%d %H:%M:%S}")
    return verified


def admitted_grant(flow_run: FlowRun) -> Grant | None:
    """The grant ``flow_run`` was admitted with, or None if it never was (nothing to clean up).

    For cancellation hooks, which may run long after the grant expired: the signature is
    checked, the times are not, and the grant must be claimed by this very run.
    """
    try:
        grant = read_grant(flow_run.parameters.get("grant"), grant_key())
    except GrantError:
        return None
    claimed = GrantLedger(load_database(DEFAULT_DATABASE).database()).claimed_by(grant.nonce)
    return grant if claimed == str(flow_run.id) else None


__all__ = ["admit", "admitted_grant", "deployment_name", "grant_key", "granted_resource", "run_parameters"]
