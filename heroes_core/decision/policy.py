"""An organisation's decision policy: where its workflows may run and what the planner optimises.

The design's placement starts from the organisation (D3.1 4.7.5, step 1): its managers fix the
platforms a workflow may use, the default strategy and weights, a default energy cap, and whether
users may change them. A user's spec is read against that policy before anything is predicted:

* platforms: the policy's list is a fence, a spec may narrow it but never name a centre outside;
* strategy and weights: a spec that names none gets the organisation's; one that names others is
  refused when the organisation fixes them;
* energy cap: the policy's is the default; a spec may always ask a tighter one, and a looser one
  only where users may change the goals.

A workflow-specific policy (by the workflow's name) replaces the organisation-wide one (``*``).
Policies live in the project database (``decision_policies``, migration ``0011``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, Boolean, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.errors import SpecError
from heroes_core.models import NAME_PATTERN, Name
from heroes_core.store import Base, Database, UTCDateTime
from heroes_core.workflows import Criterion, Strategy, WorkflowSpec, check_weights

ANY_WORKFLOW = "*"


class DecisionPolicyRow(Base):
    __tablename__ = "decision_policies"

    organisation: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64), primary_key=True)
    allowed_platforms: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    strategy: Mapped[str] = mapped_column(String(16))
    weights: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    energy_cap_kj: Mapped[float | None] = mapped_column(Float, nullable=True)
    users_may_change: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class DecisionPolicy(BaseModel):
    """One organisation's rule (for one workflow, or ``*`` for all). No row: any registered centre,
    strategy ``time``, no energy cap, users free to change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    organisation: str = Field(pattern=NAME_PATTERN)
    workflow: str = Field(default=ANY_WORKFLOW, pattern=rf"^(\*|{NAME_PATTERN.strip('^$')})$",
                          description="The workflow name it governs, or '*' for every workflow.")
    allowed_platforms: tuple[Name, ...] | None = Field(
        default=None, description="Centres (and cloud clusters) the workflows may use; None: any.")
    strategy: Strategy = Field(default="time", description="What the planner optimises by default.")
    weights: dict[Criterion, float] | None = Field(default=None, description="Weights of 'weighted'.")
    energy_cap_kj: float | None = Field(default=None, gt=0, description="Default energy cap per workflow.")
    users_may_change: bool = Field(default=True,
                                   description="Whether a spec may name its own strategy, weights or a "
                                               "looser energy cap.")

    @model_validator(mode="after")
    def _consistent(self) -> DecisionPolicy:
        if self.allowed_platforms is not None and not self.allowed_platforms:
            raise SpecError(f"organisation '{self.organisation}': an empty platform list would allow "
                            "no placement", fix="name at least one centre, or allow any (no list)")
        check_weights(self.strategy, self.weights)
        return self

    def describe(self) -> str:
        """One line for the placement artifact: what the organisation fixed."""
        platforms = ", ".join(self.allowed_platforms) if self.allowed_platforms else "any centre"
        cap = f"{self.energy_cap_kj:g} kJ" if self.energy_cap_kj is not None else "none"
        scope = "" if self.workflow == ANY_WORKFLOW else f" for workflow {self.workflow}"
        return (f"policy of {self.organisation}{scope}: platforms {platforms}; strategy {self.strategy}; "
                f"energy cap {cap}; users {'may' if self.users_may_change else 'may not'} change them")


class Goals(BaseModel):
    """What one workflow is planned for once its organisation's policy is applied."""

    model_config = ConfigDict(frozen=True)

    strategy: Strategy
    weights: dict[Criterion, float] | None
    allowed_sites: list[str] | None
    energy_cap_kj: float | None
    policy: str = Field(description="The policy applied, in words (shown with the placement).")

    @property
    def weighs_energy(self) -> bool:
        return self.strategy == "energy" or bool(self.strategy == "weighted" and self.weights
                                                 and self.weights.get("energy", 0) > 0)


def goals_for(spec: WorkflowSpec, policy: DecisionPolicy | None) -> Goals:
    """``spec``'s goals under ``policy`` (None: the spec's own, for callers outside any
    organisation), or a :class:`SpecError` naming what the policy forbids."""
    if policy is None:
        return Goals(strategy=spec.strategy or "time", weights=spec.weights, allowed_sites=spec.allowed_sites,
                     energy_cap_kj=spec.energy_cap_kj, policy="no organisation policy")
    who = f"organisation '{policy.organisation}'"
    allowed = spec.allowed_sites
    if policy.allowed_platforms is not None:
        outside = sorted(set(allowed or ()) - set(policy.allowed_platforms))
        if outside:
            raise SpecError(f"{who} does not let workflow '{spec.name}' use {', '.join(outside)}",
                            site="decision", fix=f"choose among {', '.join(policy.allowed_platforms)}")
        allowed = allowed or list(policy.allowed_platforms)
    strategy, weights = policy.strategy, policy.weights
    if spec.strategy is not None:
        if not policy.users_may_change and (spec.strategy, spec.weights) != (strategy, weights):
            raise SpecError(f"{who} plans its workflows for strategy '{strategy}'"
                            f"{f' with weights {weights}' if weights else ''}: its users may not "
                            f"choose '{spec.strategy}'", site="decision",
                            fix="drop strategy and weights from the spec, or ask an organisation "
                                "manager to let users change them")
        strategy, weights = spec.strategy, spec.weights
    cap = policy.energy_cap_kj
    if spec.energy_cap_kj is not None:
        if cap is not None and spec.energy_cap_kj > cap and not policy.users_may_change:
            raise SpecError(f"{who} caps a workflow's energy at {cap:g} kJ: {spec.energy_cap_kj:g} kJ "
                            "is more than its users may ask", site="decision",
                            fix=f"ask for at most {cap:g} kJ")
        cap = spec.energy_cap_kj
    return Goals(strategy=strategy, weights=weights, allowed_sites=allowed, energy_cap_kj=cap,
                 policy=policy.describe())


class DecisionPolicies:
    """Read and set organisations' decision policies."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, organisation: str, workflow: str = ANY_WORKFLOW) -> DecisionPolicy:
        """The policy governing ``workflow``: its own, else the organisation's, else the default."""
        with self.database.transaction() as session:
            for name in dict.fromkeys((workflow, ANY_WORKFLOW)):
                row = session.get(DecisionPolicyRow, (organisation, name))
                if row is not None:
                    return _policy(row)
        return DecisionPolicy(organisation=organisation)

    def set(self, policy: DecisionPolicy, *, actor: str) -> DecisionPolicy:
        if not actor or len(actor) > 64:
            raise SpecError("who sets the policy must be named (at most 64 characters)")
        with self.database.transaction() as session:
            key = (policy.organisation, policy.workflow)
            row = session.get(DecisionPolicyRow, key, with_for_update=True)
            if row is None:
                row = DecisionPolicyRow(organisation=policy.organisation, workflow=policy.workflow)
                session.add(row)
            row.allowed_platforms = list(policy.allowed_platforms) if policy.allowed_platforms else None
            row.strategy = policy.strategy
            row.weights = ({str(name): weight for name, weight in policy.weights.items()}
                           if policy.weights else None)
            row.energy_cap_kj = policy.energy_cap_kj
            row.users_may_change = policy.users_may_change
            row.updated_at = datetime.now(UTC)
            row.updated_by = actor
        return policy


def _policy(row: DecisionPolicyRow) -> DecisionPolicy:
    values: dict[str, Any] = {
        "organisation": row.organisation, "workflow": row.workflow, "strategy": row.strategy,
        "weights": row.weights, "energy_cap_kj": row.energy_cap_kj, "users_may_change": row.users_may_change,
        "allowed_platforms": tuple(row.allowed_platforms) if row.allowed_platforms else None}
    return DecisionPolicy.model_validate(values)


__all__ = ["ANY_WORKFLOW", "DecisionPolicies", "DecisionPolicy", "DecisionPolicyRow", "Goals", "goals_for"]
