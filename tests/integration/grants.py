"""Grants as the gateway will issue them, with the test bed's grant key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from heroes_core.identity import Action, Identity, Role, issue_grant

RUN_JOB = "run-job/run-job"


def job(image: dict[str, str], command: list[str]) -> dict[str, Any]:
    """run-job's parameters for a short job of ``command`` in the test bed's ``image``."""
    return {"spec": {"image": image, "command": command, "time_limit_minutes": 5}}


def grant_key() -> str:
    """The test bed's grant key, from its Secret block."""
    from prefect.blocks.system import Secret  # Prefect reads its API URL on import

    from heroes.blocks.defaults import DEFAULT_GRANT_KEY
    return str(Secret.load(DEFAULT_GRANT_KEY).get())


def engineer(user: str, organisation: str = "itest") -> Identity:
    return Identity(subject=f"sub-{user}", user=user, organisation=organisation,
                    roles=frozenset({Role.ENGINEER}))


def granted(parameters: dict[str, Any], user: str, *, deployment: str = RUN_JOB, key: str | None = None,
            **kwargs: Any) -> dict[str, Any]:
    """``parameters`` plus a grant for ``user`` of itest to start ``deployment`` with them."""
    kwargs.setdefault("ttl", timedelta(minutes=10))
    token = issue_grant(engineer(user), Action.SUBMIT_WORKFLOW, deployment, parameters,
                        key or grant_key(), **kwargs)
    return {**parameters, "grant": token}
