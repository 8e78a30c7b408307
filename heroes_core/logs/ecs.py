"""Log records as Elastic Common Schema documents, with the HEROES fields.

Built on ``ecs_logging.StdlibFormatter`` (the Elastic-maintained mapping of a stdlib record to
ECS), which this module extends in three ways: the HEROES fields go under ``heroes.*`` (and the
outcome to ``event.outcome``); the extras Prefect's run loggers add (``flow_run_id``,
``task_name``, ...) go under ``heroes.prefect.*`` and any other extra under ``labels``, so a
document only has ECS's top-level field sets and ``heroes``; and every string in the document is
redacted, exception texts included.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Mapping
from typing import Any, Final

import ecs_logging
from ecs_logging import ECS_VERSION

from heroes_core.logs.context import stamp_record
from heroes_core.logs.fields import ECS_OUTCOMES, NAMESPACE
from heroes_core.logs.redaction import REDACTED_MARK, redact, redact_value

SERVICE_NAME: Final = "heroes"

# The attributes Prefect's run loggers set on records, kept under heroes.prefect.
PREFECT_EXTRAS: Final = ("flow_run_id", "flow_run_name", "flow_name", "task_run_id", "task_run_name",
                         "task_name", "worker_id")
# ECS 8's top-level field sets (and the base fields): anything else is a caller's extra.
ECS_TOP_LEVEL: Final = frozenset({
    "@timestamp", "message", "labels", "tags", "agent", "as", "client", "cloud", "code_signature",
    "container", "data_stream", "destination", "device", "dll", "dns", "ecs", "elf", "email", "error",
    "event", "faas", "file", "geo", "group", "hash", "host", "http", "interface", "log", "macho",
    "network", "observer", "orchestrator", "organization", "os", "package", "pe", "process",
    "registry", "related", "risk", "rule", "server", "service", "source", "span", "threat", "tls",
    "trace", "transaction", "url", "user", "user_agent", "vlan", "vulnerability", "x509", NAMESPACE,
})
# Record attributes that are not fields: Prefect's opt-out flag and the redaction mark.
_SKIPPED: Final = frozenset({"send_to_api", REDACTED_MARK})


class HeroesEcsFormatter(ecs_logging.StdlibFormatter):
    """One ECS JSON line per record, with the HEROES fields in force when it was logged.

    The fields and their values are ``ecs_logging``'s (its timestamp, error and stack
    extraction are used as they are; a unit test holds the two documents equal), but the
    document is built directly instead of through the library's generic de-dotting and merging
    of every attribute, which costs five times the rest of a record's handling: logging runs
    inside every task of every flow, and its overhead is budgeted (benchmarks/log_throughput.py).
    ``log.original``, which repeats the message, is left out.
    """

    def __init__(self, *, service_name: str = SERVICE_NAME, stack_trace_limit: int | None = None,
                 exclude_fields: tuple[str, ...] = ()) -> None:
        super().__init__(stack_trace_limit=stack_trace_limit, exclude_fields=exclude_fields,
                         ensure_ascii=False)
        self._service = {"name": service_name}
        self._host = {"hostname": socket.gethostname()}
        self._excluded = tuple(exclude_fields)

    def format_to_ecs(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as a nested ECS document (no dotted keys), redacted."""
        stamp_record(record)
        message = record.getMessage()
        if not record.__dict__.get(REDACTED_MARK):  # configure's record factory did not see it
            message = redact(message)
        document: dict[str, Any] = {
            "@timestamp": self._record_timestamp(record),
            "log": {"level": record.levelname.lower(), "logger": record.name,
                    "origin": {"function": record.funcName,
                               "file": {"line": record.lineno, "name": record.filename}}},
            "message": message,
            "ecs": {"version": ECS_VERSION},
            "process": {"pid": record.process, "name": record.processName,
                        "thread": {"id": record.thread, "name": record.threadName}},
            "service": dict(self._service),  # copies: a caller's extra may add to them
            "host": dict(self._host),
        }
        if record.exc_info or record.stack_info:
            error = {"type": self._record_error_type(record), "message": self._record_error_message(record),
                     "stack_trace": self._record_error_stack_trace(record)}
            document["error"] = {key: redact(value) for key, value in error.items() if value is not None}
        extras = record.__dict__.keys() - self._LOGRECORD_DICT - _SKIPPED
        if extras:
            self._add_extras(document, record, extras)
        for path in self._excluded:
            _prune(document, path.split("."))
        return document

    def _add_extras(self, document: dict[str, Any], record: logging.LogRecord, names: set[str]) -> None:
        """The caller's extras: HEROES fields and Prefect's run attributes under ``heroes``, ECS
        fields (``event.action``, ``{"http": {...}}``) where ECS puts them, the rest as labels."""
        values = record.__dict__
        heroes = values.get(NAMESPACE)
        heroes = dict(heroes) if isinstance(heroes, Mapping) else {}
        prefect: dict[str, str] = {}
        labels: dict[str, str] = {}
        for name in sorted(names):
            value = values[name]
            if name == NAMESPACE or value is None:
                continue
            if name in PREFECT_EXTRAS:
                prefect[name] = str(value)
            elif name.split(".", 1)[0] in ECS_TOP_LEVEL and name not in ("@timestamp", "message", "labels"):
                _merge(document, name.split(".")[0], _nested(name.split(".")[1:], redact_value(value)))
            else:
                # ECS labels are keywords: one type whatever the caller passed, so no mapping conflict.
                labels[name] = redact(value if isinstance(value, str) else json.dumps(value, default=str))
        if prefect:
            heroes["prefect"] = prefect
        if heroes:
            document[NAMESPACE] = heroes
            if heroes.get("outcome") in ECS_OUTCOMES:
                document.setdefault("event", {})["outcome"] = heroes["outcome"]
        if labels:
            document["labels"] = labels

    def format(self, record: logging.LogRecord) -> str:
        return to_ndjson(self.format_to_ecs(record))


def _nested(path: list[str], value: Any) -> Any:
    for part in reversed(path):
        value = {part: value}
    return value


def _prune(document: dict[str, Any], path: list[str]) -> None:
    node: Any = document
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def to_ndjson(document: Mapping[str, Any]) -> str:
    """``document`` as one JSON line, ``@timestamp``, ``log.level``, ``message`` and
    ``ecs.version`` first and dotted, as ECS logging libraries write them (log shippers look
    for them there, and a raw file stays readable)."""
    log = document.get("log")
    ecs = document.get("ecs")
    rest = {key: value for key, value in document.items()
            if key not in ("@timestamp", "message", "log", "ecs")}
    head: dict[str, Any] = {"@timestamp": document.get("@timestamp")}
    if isinstance(log, Mapping):
        head["log.level"] = log.get("level")
        tail = {key: value for key, value in log.items() if key != "level"}
        if tail:
            rest["log"] = tail
    head["message"] = document.get("message")
    if isinstance(ecs, Mapping):
        head["ecs.version"] = ecs.get("version")
        if len(ecs) > 1:
            rest["ecs"] = {key: value for key, value in ecs.items() if key != "version"}
    return json.dumps({**head, **dict(sorted(rest.items()))}, separators=(",", ":"), default=str,
                      ensure_ascii=False)


def from_ndjson(line: str) -> dict[str, Any]:
    """A line :func:`to_ndjson` wrote (or any ECS line) as a nested document: dotted keys such
    as ``log.level`` and ``ecs.version`` become objects."""
    flat: dict[str, Any] = json.loads(line)
    document: dict[str, Any] = {}
    for key, value in flat.items():
        if key == "@timestamp" or "." not in key:
            _merge(document, key, value)
            continue
        *parents, last = key.split(".")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        _merge(node, last, value)
    return document


def _merge(node: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, dict) and isinstance(node.get(key), dict):
        for inner, each in value.items():
            _merge(node[key], inner, each)
    else:
        node[key] = value
