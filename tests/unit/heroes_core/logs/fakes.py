"""A fake OpenSearch node behind opensearch-py's own client: the sink's code path is the real
one down to the HTTP request, which this connection answers from memory."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from opensearchpy import Connection, OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError


class FakeNode:
    """What a node stored (by index and id), every request it answered, and switches for the
    tests: ``up``, ``fail_after`` (bulk requests answered before it goes down), and per-item
    statuses to answer with."""

    def __init__(self) -> None:
        self.up = True
        self.delay = 0.0  # seconds each bulk request takes: a slow node
        self.fail_after: int | None = None
        self.item_status: dict[str, int] = {}  # document id -> status to answer once
        self.refuse_ids: set[str] = set()  # document ids refused for good (mapping conflict)
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}
        self.received: list[str] = []  # document ids in the order bulk requests carried them
        self.templates: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    @property
    def stored(self) -> list[dict[str, Any]]:
        return [doc for index in self.indices.values() for doc in index.values()]

    def answer(self, method: str, url: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        if self.delay and url.startswith("/_bulk"):
            time.sleep(self.delay)
        with self.lock:
            if not self.up:
                raise OpenSearchConnectionError("N/A", "connection refused (fake node is down)", None)
            self.requests.append((method, url))
            path = url.split("?")[0]
            if path.startswith("/_index_template/"):
                self.templates[path.rsplit("/", 1)[1]] = json.loads(body or b"{}")
                return 200, {"acknowledged": True}
            if path == "/_bulk":
                if self.fail_after is not None:
                    if self.fail_after == 0:
                        self.up = False
                        raise OpenSearchConnectionError("N/A", "connection reset (fake node died)", None)
                    self.fail_after -= 1
                return 200, self._bulk(body or b"")
            return 404, {"error": f"the fake node does not know {method} {path}"}

    def _bulk(self, body: bytes) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        items, errors = [], False
        for action, document in zip(lines[::2], lines[1::2], strict=True):
            meta = action["index"]
            doc_id = meta["_id"]
            self.received.append(doc_id)
            status = self.item_status.pop(doc_id, 201)
            if doc_id in self.refuse_ids:
                status = 400
            if status >= 300:
                errors = True
                items.append({"index": {"_index": meta["_index"], "_id": doc_id, "status": status,
                                        "error": {"type": "mapper_parsing_exception",
                                                  "reason": "failed to parse (fake)"}}})
                continue
            self.indices.setdefault(meta["_index"], {})[doc_id] = document
            items.append({"index": {"_index": meta["_index"], "_id": doc_id, "status": status}})
        return {"took": 1, "errors": errors, "items": items}


class FakeConnection(Connection):
    def __init__(self, node: FakeNode, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.node = node

    def perform_request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                        body: bytes | None = None, timeout: float | None = None, ignore: Any = (),
                        headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        if body is not None and headers and headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if isinstance(body, str):
            body = body.encode()
        status, data = self.node.answer(method, url, body)
        raw = json.dumps(data)
        if not 200 <= status < 300:
            self._raise_error(status, raw)
        return status, {"content-type": "application/json"}, raw


def fake_client(node: FakeNode) -> OpenSearch:
    return OpenSearch(hosts=["http://fake-node:9200"], connection_class=FakeConnection, node=node,
                      max_retries=0)
