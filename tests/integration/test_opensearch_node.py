"""The test bed's search cluster is a real OpenSearch node (scripts/testbed/opensearch.sh).

It answers health, takes a composable index template, indexes documents sent in one bulk
request (``index`` and ``create`` actions with their ``_id``) with the template's mappings,
and finds them again with a term query and a match_all query; the opensearch-py client, which
HEROES' log shipper uses, does the same through its bulk helper. Each test's indices and
template are deleted afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture(scope="module")
def search_url(testbed: dict[str, Any]) -> str:
    if "search" not in testbed:
        pytest.fail("testbed.json has no search entry: run scripts/testbed.sh up", pytrace=False)
    url: str = testbed["search"]["url"]
    return url


@pytest.fixture
def http(search_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=search_url, timeout=30) as client:
        yield client


@pytest.fixture
def prefix(http: httpx.Client) -> Iterator[str]:
    """A fresh index name prefix; its indices and its template are deleted afterwards."""
    name = f"itest-logs-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        http.delete(f"/{name}-*")
        http.delete(f"/_index_template/{name}")


def ecs_template(prefix: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-*"],
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "message": {"type": "text"},
                "log": {"properties": {"level": {"type": "keyword"}}},
                "heroes": {"properties": {"job_id": {"type": "keyword"},
                                          "cpu_ratio": {"type": "scaled_float", "scaling_factor": 100}}},
            }},
        },
    }


def test_node_answers_health(http: httpx.Client, testbed: dict[str, Any]) -> None:
    root = http.get("/")
    assert root.status_code == 200
    assert root.json()["version"]["distribution"] == "opensearch"
    assert root.json()["version"]["number"] == testbed["search"]["version"]
    assert http.head("/").status_code == 200
    health = http.get("/_cluster/health").json()
    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] == 1


def test_template_bulk_and_search(http: httpx.Client, prefix: str) -> None:
    put = http.put(f"/_index_template/{prefix}", json=ecs_template(prefix))
    assert put.status_code == 200, put.text
    assert put.json() == {"acknowledged": True}

    index = f"{prefix}-2026.11"
    docs = {
        "j1-start": {"@timestamp": "2026-11-30T10:00:00Z", "message": "job started",
                     "log": {"level": "info"}, "heroes": {"job_id": "j1", "cpu_ratio": 0.25}},
        "j1-fail": {"@timestamp": "2026-11-30T10:00:05Z", "message": "job failed: out of memory",
                    "log": {"level": "error"}, "heroes": {"job_id": "j1", "cpu_ratio": 0.9}},
        "j2-start": {"@timestamp": "2026-11-30T10:01:00Z", "message": "job started",
                     "log": {"level": "info"}, "heroes": {"job_id": "j2"}},
    }
    lines = []
    for n, (doc_id, doc) in enumerate(docs.items()):
        action = "create" if n % 2 else "index"
        lines += [json.dumps({action: {"_index": index, "_id": doc_id}}), json.dumps(doc)]
    bulk = http.post("/_bulk", params={"refresh": "true"}, content="\n".join(lines) + "\n",
                     headers={"Content-Type": "application/x-ndjson"})
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["errors"] is False
    assert [next(iter(item.values()))["status"] for item in bulk.json()["items"]] == [201, 201, 201]

    # The template's mappings, not dynamic ones, apply to the new index.
    mapping = http.get(f"/{index}/_mapping").json()[index]["mappings"]["properties"]
    assert mapping["log"]["properties"]["level"]["type"] == "keyword"
    assert mapping["heroes"]["properties"]["cpu_ratio"]["type"] == "scaled_float"

    term = http.post(f"/{prefix}-*/_search",
                     json={"query": {"term": {"log.level": "error"}}, "size": 10}).json()
    assert [hit["_id"] for hit in term["hits"]["hits"]] == ["j1-fail"]
    assert term["hits"]["hits"][0]["_source"] == docs["j1-fail"]

    # GET with a body, as opensearch-py sends searches.
    every = http.request("GET", f"/{index}/_search", params={"size": 2},
                         headers={"Content-Type": "application/json"},
                         content=json.dumps({"query": {"match_all": {}}})).json()
    assert every["hits"]["total"]["value"] == 3
    assert len(every["hits"]["hits"]) == 2

    # A second create of the same _id is refused; an index of it replaces the document.
    again = http.post("/_bulk", params={"refresh": "true"},
                      headers={"Content-Type": "application/x-ndjson"},
                      content=json.dumps({"create": {"_index": index, "_id": "j2-start"}}) + "\n{}\n")
    assert again.json()["errors"] is True
    assert again.json()["items"][0]["create"]["status"] == 409


def test_opensearch_py_client(search_url: str, prefix: str) -> None:
    import opensearchpy
    from opensearchpy import helpers

    client = opensearchpy.OpenSearch(hosts=[search_url], timeout=30)
    try:
        assert client.ping()
        client.indices.put_index_template(name=prefix, body=ecs_template(prefix))
        index = f"{prefix}-py"
        actions = [{"_op_type": "create", "_index": index, "_id": f"e{i}",
                    "_source": {"@timestamp": f"2026-11-30T10:00:0{i}Z", "message": f"event {i}",
                                "log": {"level": "warn" if i == 2 else "info"}}}
                   for i in range(4)]
        ok, errors = helpers.bulk(client, actions, refresh=True)
        assert (ok, errors) == (4, [])
        found = client.search(index=f"{prefix}-*", body={"query": {"term": {"log.level": "warn"}}, "size": 5})
        assert [hit["_id"] for hit in found["hits"]["hits"]] == ["e2"]
        assert client.count(index=index)["count"] == 4
    finally:
        client.close()
