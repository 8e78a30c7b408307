"""The saved objects for OpenSearch Dashboards name only fields the index template types, and
every reference resolves: a renamed field fails here, not in a chart."""

import json
from typing import Any

from heroes_core import logs
from heroes_core.logs.dashboards import saved_objects, to_ndjson


def mapped_types(mapping: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for name, field in mapping.items():
        if "type" in field and field["type"] != "object":
            found[prefix + name] = field["type"]
        if "properties" in field:
            found |= mapped_types(field["properties"], f"{prefix}{name}.")
    return found


def test_every_chart_aggregates_a_field_the_template_maps_as_a_number_keyword_or_date() -> None:
    types = mapped_types(logs.index_template("heroes-logs")["template"]["mappings"]["properties"])
    charts = [item for item in saved_objects() if item["type"] == "visualization"]
    assert len(charts) == 5
    for chart in charts:
        state = json.loads(chart["attributes"]["visState"])
        for aggregation in state["aggs"]:
            field = aggregation["params"].get("field")
            if field is None:
                continue
            expected = {"date"} if aggregation["type"] == "date_histogram" else \
                {"keyword"} if aggregation["type"] == "terms" else {"double", "long"}
            assert types.get(field) in expected, (chart["id"], field, types.get(field))
        query = json.loads(chart["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        assert query in (f'event.dataset:"{logs.ACCOUNTING_DATASET}"', f'event.dataset:"{logs.DECISIONS_DATASET}"')


def test_references_resolve_and_the_export_is_one_object_per_line() -> None:
    objects = saved_objects("acme-logs")
    ids = {(item["type"], item["id"]) for item in objects}
    for item in objects:
        for reference in item["references"]:
            assert (reference["type"], reference["id"]) in ids
    [pattern] = [item for item in objects if item["type"] == "index-pattern"]
    assert pattern["attributes"]["title"] == "acme-logs-*"
    lines = to_ndjson(objects).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [item["id"] for item in objects]
    dashboard = objects[-1]
    assert dashboard["type"] == "dashboard" and len(json.loads(dashboard["attributes"]["panelsJSON"])) == 5
