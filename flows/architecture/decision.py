"""The administrators' performance dashboard: how good the decision module's predictions are."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow
from prefect.artifacts import create_table_artifact

from heroes.blocks.defaults import DEFAULT_DATABASE
from heroes.tasks.resolve import load_database
from heroes_core.decision.metadata import MetadataStore


def _cells(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{key: "" if value is None else (f"{value:.3g}" if isinstance(value, float) else str(value))
             for key, value in row.items()} for row in rows]


@flow(name="decision-dashboard")
def decision_dashboard(database: str = DEFAULT_DATABASE,
                       by: list[Literal["site", "application"]] | None = None,
                       ) -> dict[str, list[dict[str, Any]]]:
    """Predicted vs actual time, cost and energy, per site and per application, as tables."""
    store = MetadataStore(load_database(database).database())
    result: dict[str, list[dict[str, Any]]] = {}
    for dimension in by or ["site", "application"]:
        rows = store.accuracy(by=dimension)
        result[dimension] = rows
        create_table_artifact(key=f"decision-accuracy-by-{dimension}", table=_cells(rows),
                              description=f"Prediction accuracy per {dimension} (completed jobs)")
    return result
