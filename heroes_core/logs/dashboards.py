"""Saved objects for OpenSearch Dashboards (and Kibana): jobs, costs, energy, and decisions
predicted against actual, over the accounting records every finished job logs.

They are built from the same names as the index template (:mod:`heroes_core.logs.schema`), so a
renamed field fails the tests here rather than a chart in production. Import them with
``python -m heroes_core.logs.dashboards > heroes.ndjson`` and Dashboards' Saved objects ->
Import (or ``POST /api/saved_objects/_import``). Each organisation's users should see only their
records: on a cluster with the security plugin, give each organisation a role whose document
level security filters on ``heroes.organisation``; these objects assume it.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

from heroes_core.logs.fields import ACCOUNTING_DATASET, DECISIONS_DATASET, NAMESPACE
from heroes_core.logs.search import DEFAULT_INDEX_PREFIX

INDEX_PATTERN_ID: Final = "heroes-logs"
JOB: Final = f"{NAMESPACE}.job"


def _visualization(vid: str, title: str, dataset: str, kind: str, aggs: list[dict[str, Any]],
                   params: dict[str, Any]) -> dict[str, Any]:
    search = {"query": {"query": f'event.dataset:"{dataset}"', "language": "kuery"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {
        "type": "visualization", "id": vid,
        "attributes": {"title": title, "description": f"From the {dataset} records.",
                       "visState": json.dumps({"title": title, "type": kind, "aggs": aggs, "params": params}),
                       "uiStateJSON": "{}", "version": 1,
                       "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
                        "id": INDEX_PATTERN_ID}],
    }


def _metric(aid: str, kind: str, field: str | None = None) -> dict[str, Any]:
    return {"id": aid, "enabled": True, "type": kind, "schema": "metric",
            "params": {"field": field} if field else {}}


def _terms(aid: str, field: str, schema: str = "group", size: int = 10) -> dict[str, Any]:
    return {"id": aid, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "size": size, "order": "desc", "orderBy": "1"}}


def _per_day(aid: str) -> dict[str, Any]:
    return {"id": aid, "enabled": True, "type": "date_histogram", "schema": "segment",
            "params": {"field": "@timestamp", "interval": "d", "min_doc_count": 1}}


VISUALIZATIONS: Final = (
    _visualization("heroes-jobs-per-day", "HEROES: jobs per day by state", ACCOUNTING_DATASET, "histogram",
                   [_metric("1", "count"), _per_day("2"), _terms("3", f"{JOB}.state")],
                   {"type": "histogram", "addLegend": True}),
    _visualization("heroes-energy-by-site", "HEROES: energy (J) per day by site and source",
                   ACCOUNTING_DATASET, "histogram",
                   [_metric("1", "sum", f"{JOB}.energy_j"), _per_day("2"), _terms("3", f"{NAMESPACE}.site"),
                    _terms("4", f"{JOB}.energy_source")],
                   {"type": "histogram", "addLegend": True}),
    _visualization("heroes-cost-by-project", "HEROES: cost by project and currency", ACCOUNTING_DATASET,
                   "table", [_metric("1", "sum", f"{JOB}.cost"),
                             _terms("2", f"{NAMESPACE}.project", "bucket"),
                             _terms("3", f"{JOB}.currency", "bucket")],
                   {"perPage": 20}),
    _visualization("heroes-core-hours-by-application", "HEROES: core-hours by application",
                   ACCOUNTING_DATASET, "pie",
                   [_metric("1", "sum", f"{JOB}.core_hours"), _terms("2", f"{JOB}.application", "segment")],
                   {"addLegend": True}),
    _visualization("heroes-predicted-vs-actual", "HEROES: predicted vs actual, per site and application",
                   DECISIONS_DATASET, "table",
                   [_metric("1", "avg", f"{JOB}.used_time_s"), _metric("2", "avg", f"{JOB}.predicted_time_s"),
                    _metric("3", "avg", f"{JOB}.energy_j"), _metric("4", "avg", f"{JOB}.predicted_energy_j"),
                    _metric("5", "sum", f"{JOB}.cost"), _metric("6", "sum", f"{JOB}.predicted_cost"),
                    _terms("7", f"{NAMESPACE}.site", "bucket"), _terms("8", f"{JOB}.application", "bucket")],
                   {"perPage": 20}),
)


def saved_objects(index_prefix: str = DEFAULT_INDEX_PREFIX) -> list[dict[str, Any]]:
    """The index pattern, the visualizations and the dashboard that places them."""
    pattern = {"type": "index-pattern", "id": INDEX_PATTERN_ID,
               "attributes": {"title": f"{index_prefix}-*", "timeFieldName": "@timestamp"}, "references": []}
    panels = [{"panelIndex": str(i), "gridData": {"x": 24 * (i % 2), "y": 15 * (i // 2), "w": 24, "h": 15,
                                                  "i": str(i)},
               "version": "2.19.6", "panelRefName": f"panel_{i}"} for i in range(len(VISUALIZATIONS))]
    dashboard = {"type": "dashboard", "id": "heroes-overview",
                 "attributes": {"title": "HEROES: jobs, costs, energy and decisions",
                                "description": "One organisation's view when document level security "
                                               "filters on heroes.organisation.",
                                "panelsJSON": json.dumps(panels),
                                "optionsJSON": json.dumps({"useMargins": True}),
                                "timeRestore": False, "version": 1,
                                "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                                    {"query": {"query": "", "language": "kuery"}, "filter": []})}},
                 "references": [{"name": f"panel_{i}", "type": "visualization", "id": vis["id"]}
                                for i, vis in enumerate(VISUALIZATIONS)]}
    return [pattern, *VISUALIZATIONS, dashboard]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(item, sort_keys=True) + "\n" for item in objects)


if __name__ == "__main__":
    sys.stdout.write(to_ndjson(saved_objects(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_INDEX_PREFIX)))
