"""The HEROES fields every log record carries, and where they sit in an ECS document.

ECS leaves custom fields two homes: ``labels`` (flat keyword strings) or a top-level object
whose name no ECS field set uses. HEROES takes the second, ``heroes.*``: the fields keep their
own names and types in the index template (``labels`` would flatten them all to keywords under
one map), dashboards can filter on ``heroes.organisation`` for tenancy, and ECS will never add a
field set called ``heroes``. The job's outcome is also copied to ECS's own ``event.outcome``
when it is one of the three values ECS allows, so generic ECS tooling sees it.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

NAMESPACE: Final = "heroes"
"""The top-level ECS object holding the HEROES fields."""

ECS_OUTCOMES: Final = frozenset({"success", "failure", "unknown"})
"""The values ECS allows for ``event.outcome``."""


class HeroesFields(BaseModel):
    """Who and what a record is about: the job's owner, its workflow, its place and its end.

    Every field is optional because a record is stamped with what is known where it is
    logged: a gateway request knows the organisation and user, a poll also knows the job id.
    Unknown names are refused, so a misspelt field fails where it is set, not in a dashboard.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    organisation: str | None = Field(default=None, description="The organisation the record is about.")
    project: str | None = Field(default=None, description="The project whose budget pays.")
    user: str | None = Field(default=None, description="The user the work runs for.")
    workflow_id: str | None = Field(default=None, description="The workflow's run (a single job is its "
                                                              "own workflow).")
    job_key: str | None = Field(default=None, description="The job key: names the job's directory, "
                                                          "batch job and ledger lines.")
    job_id: str | None = Field(default=None, description="The batch scheduler's id of the job.")
    step: str | None = Field(default=None, description="The job's id in its workflow.")
    site: str | None = Field(default=None, description="The centre or cluster the job runs on.")
    outcome: str | None = Field(default=None, description="How the work ended: success, failure or "
                                                          "unknown (as ECS event.outcome), or a "
                                                          "HEROES word such as cancelled.")


ACCOUNTING_DATASET: Final = "heroes.accounting"
"""``event.dataset`` of the one record each finished job's accounting logs: what the dashboards read."""
DECISIONS_DATASET: Final = "heroes.decisions"
"""``event.dataset`` of the record a workflow job logs once its prediction joins its accounting."""


class AccountingFields(BaseModel):
    """What a finished job used, consumed and cost, as its accounting record logs it (``heroes.job``).

    Typed here, and mapped so in the index template, so that dashboards can sum and average them
    whatever the first job's values looked like.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    application: str
    application_version: str | None = None
    partition: str | None = None
    state: str
    exit_code: int | None = None
    cores: int
    nodes: int
    gpus: int = 0
    used_time_s: float
    cpu_time_s: float | None = None
    queue_wait_s: float | None = None
    core_hours: float
    max_memory_mb: float | None = None
    energy_j: float | None = None
    energy_source: str
    energy_policy: str | None = None
    cost: float | None = None
    currency: str | None = None
    predicted_time_s: float | None = None
    predicted_energy_j: float | None = None
    predicted_cost: float | None = None


ACCOUNTING_KEYWORDS: Final = ("application", "application_version", "partition", "state", "energy_source",
                              "energy_policy", "currency")
ACCOUNTING_NUMBERS: Final = tuple(name for name in AccountingFields.model_fields
                                  if name not in ACCOUNTING_KEYWORDS)

FIELD_NAMES: Final = tuple(HeroesFields.model_fields)
"""The HEROES field names, in a stable order (the index template and the tests use it)."""
