"""Which EAR policy a job runs under: its organisation's default, or the user's own pick.

Non-experts should not have to know EAR's policies, so an organisation sets a default that every
job on an EAR centre gets; an organisation whose users are experts lets them pick per job
(``JobSpec.energy_policy``). A pick the organisation does not allow is refused before anything
is submitted, naming the default it would have run under. On a centre without EAR no policy
applies and none is recorded. Settings live in the project database (``energy_policies``,
migration ``0010``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from heroes_core.energy.ear import check_policy
from heroes_core.errors import SpecError
from heroes_core.models import NAME_PATTERN
from heroes_core.store import Base, Database, UTCDateTime


class EnergyPolicyRow(Base):
    __tablename__ = "energy_policies"

    organisation: Mapped[str] = mapped_column(String(64), primary_key=True)
    default_policy: Mapped[str | None] = mapped_column(String(32), nullable=True)
    users_may_choose: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class EnergyPolicySetting(BaseModel):
    """An organisation's rule for EAR policies (no row: no default, users may not choose)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    organisation: str = Field(pattern=NAME_PATTERN)
    default_policy: str | None = Field(default=None, description="Every job's policy on EAR centres.")
    users_may_choose: bool = Field(default=False, description="Whether a job may name its own policy.")

    @field_validator("default_policy")
    @classmethod
    def _policy(cls, value: str | None) -> str | None:
        return None if value is None else check_policy(value)


def choose_policy(setting: EnergyPolicySetting, requested: str | None, *, ear: bool) -> str | None:
    """The policy a job runs under: None on a centre without EAR; else the user's pick if the
    organisation allows picks, else the organisation's default."""
    if requested is not None and not setting.users_may_choose:
        raise SpecError(
            f"organisation '{setting.organisation}' sets its jobs' EAR policy "
            f"({setting.default_policy or 'the centre default'}): its users may not choose "
            f"'{requested}'", fix="drop energy_policy from the job, or ask an organisation manager to "
                                  "let users choose")
    if not ear:
        return None
    return check_policy(requested) if requested is not None else setting.default_policy


class EnergyPolicies:
    """Read and set organisations' EAR policy rules."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, organisation: str) -> EnergyPolicySetting:
        with self.database.transaction() as session:
            row = session.get(EnergyPolicyRow, organisation)
            if row is None:
                return EnergyPolicySetting(organisation=organisation)
            return EnergyPolicySetting(organisation=row.organisation, default_policy=row.default_policy,
                                       users_may_choose=row.users_may_choose)

    def set(self, setting: EnergyPolicySetting, *, actor: str) -> EnergyPolicySetting:
        if not actor or len(actor) > 64:
            raise SpecError("who sets the policy must be named (at most 64 characters)")
        with self.database.transaction() as session:
            row = session.get(EnergyPolicyRow, setting.organisation, with_for_update=True)
            if row is None:
                row = EnergyPolicyRow(organisation=setting.organisation)
                session.add(row)
            row.default_policy = setting.default_policy
            row.users_may_choose = setting.users_may_choose
            row.updated_at = datetime.now(UTC)
            row.updated_by = actor
        return setting


__all__ = ["EnergyPolicies", "EnergyPolicyRow", "EnergyPolicySetting", "choose_policy"]
