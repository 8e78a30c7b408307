"""The consumption ledger: every cost line, and the billing views consolidated from it."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select

from heroes_core.costs.schema import CostLine
from heroes_core.store import Database

Dimension = Literal["organisation", "project", "user", "site", "month", "workflow"]


class LedgerLine(BaseModel):
    organisation: str
    project: str | None
    user: str
    workflow_id: str
    job_key: str
    site: str | None
    offering_id: int
    price_version_id: int
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    incurred_at: datetime
    overage: Decimal = Decimal(0)  # the part of ``amount`` a hard budget could not cover

    @property
    def month(self) -> str:
        return self.incurred_at.strftime("%Y-%m")


class Ledger:
    """Read side of the cost lines written by :meth:`Budgets.commit`."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def lines(self, *, organisation: str | None = None, since: datetime | None = None,
              until: datetime | None = None, workflow_id: str | None = None,
              job_key: str | None = None) -> list[LedgerLine]:
        query = select(CostLine).order_by(CostLine.incurred_at, CostLine.id)
        if organisation:
            query = query.where(CostLine.organisation == organisation)
        if workflow_id:
            query = query.where(CostLine.workflow_id == workflow_id)
        if job_key:
            query = query.where(CostLine.job_key == job_key)
        if since:
            query = query.where(CostLine.incurred_at >= since)
        if until:
            query = query.where(CostLine.incurred_at < until)
        with self.db.transaction() as session:
            return [LedgerLine.model_validate(row, from_attributes=True)
                    for row in session.scalars(query)]

    @staticmethod
    def consolidate(lines: Iterable[LedgerLine], by: Sequence[Dimension]) -> list[dict[str, str]]:
        """Totals per combination of ``by`` (and currency), sorted, amounts as strings.

        ``amount`` is what the jobs cost; ``overage`` is the part of it beyond what their hard
        budgets could cover (recorded, never taken from the budgets).
        """
        totals: dict[tuple[str, ...], list[Decimal]] = defaultdict(lambda: [Decimal("0.00")] * 2)
        for line in lines:
            key = (*(str(getattr(line, "workflow_id" if d == "workflow" else d) or "") for d in by),
                   line.currency)
            totals[key][0] += line.amount
            totals[key][1] += line.overage
        return [{**dict(zip([*by, "currency"], key, strict=True)), "amount": str(amount),
                 "overage": str(overage)}
                for key, (amount, overage) in sorted(totals.items())]

    @staticmethod
    def to_csv(rows: Sequence[dict[str, str]]) -> str:
        if not rows:
            return ""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
