"""The shape of a HEROES log record, as a model to validate against and as an index template.

The model is what every line a HEROES handler writes must satisfy (the unit tests validate each
record type against it); the template is what a search cluster is told before the first record
arrives, so the HEROES fields are keywords to filter and aggregate on rather than whatever
dynamic mapping would guess from the first value it sees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heroes_core.logs.ecs import ECS_TOP_LEVEL, PREFECT_EXTRAS, from_ndjson
from heroes_core.logs.fields import (
    ACCOUNTING_KEYWORDS,
    ACCOUNTING_NUMBERS,
    FIELD_NAMES,
    NAMESPACE,
    AccountingFields,
    HeroesFields,
)

TEMPLATE_VERSION: Final = 2
"""Raised when the template changes, so a cluster's installed copy can be told apart."""


class LogFields(BaseModel):
    model_config = ConfigDict(extra="allow")

    level: str = Field(pattern=r"^[a-z]+$", description="The record's level, lower case (ECS).")
    logger: str = Field(min_length=1, description="The logger's name.")


class EcsFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")


class EventFields(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    sequence: int | None = None
    outcome: Literal["success", "failure", "unknown"] | None = None
    dataset: str | None = None


class PrefectRunFields(BaseModel):
    """The Prefect run a record was logged in (the extras Prefect's run loggers add)."""

    model_config = ConfigDict(extra="forbid")

    flow_run_id: str | None = None
    flow_run_name: str | None = None
    flow_name: str | None = None
    task_run_id: str | None = None
    task_run_name: str | None = None
    task_name: str | None = None
    worker_id: str | None = None


class RecordHeroesFields(HeroesFields):
    prefect: PrefectRunFields | None = None
    job: AccountingFields | None = None


class EcsRecord(BaseModel):
    """One HEROES log record: ECS's required fields, the HEROES fields with their types, and
    nothing at the top level that is neither ECS nor ``heroes``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    timestamp: datetime = Field(alias="@timestamp")
    log: LogFields
    message: str
    ecs: EcsFields
    heroes: RecordHeroesFields | None = None
    event: EventFields | None = None
    labels: dict[str, str] | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if not (isinstance(value, str) and value.endswith("Z")):
            raise ValueError(f"@timestamp must be an ISO 8601 UTC time ending in Z, not {value!r}")
        return value

    @model_validator(mode="after")
    def _only_ecs_field_sets(self) -> EcsRecord:
        stray = set(self.model_extra or {}) - ECS_TOP_LEVEL
        if stray:
            raise ValueError(f"top-level fields that are neither ECS nor {NAMESPACE}: {sorted(stray)}")
        return self


def validate_line(line: str) -> EcsRecord:
    """Parse one NDJSON log line and check it is a HEROES ECS record."""
    return EcsRecord.model_validate(from_ndjson(line))


def _keywords(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: {"type": "keyword"} for name in names}


def index_template(prefix: str, *, shards: int = 1) -> dict[str, Any]:
    """The composable index template for indices ``<prefix>-*`` (OpenSearch and Elasticsearch).

    Replicas expand from 0 to 1 with the cluster (``auto_expand_replicas``), so one node stays
    green and a real cluster keeps a copy. Strings not named here map to keywords, not text.
    """
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"description": "HEROES ECS log records (heroes_core.logs)"},
        "template": {
            "settings": {"number_of_shards": shards, "auto_expand_replicas": "0-1"},
            "mappings": {
                "dynamic_templates": [{"strings_as_keywords": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": 1024}}}],
                "properties": {
                    "@timestamp": {"type": "date"},
                    "message": {"type": "text"},
                    "ecs": {"properties": _keywords(("version",))},
                    "log": {"properties": {
                        **_keywords(("level", "logger")),
                        "origin": {"properties": {
                            "function": {"type": "keyword"},
                            "file": {"properties": {"name": {"type": "keyword"},
                                                    "line": {"type": "long"}}}}}}},
                    "event": {"properties": {**_keywords(("id", "outcome", "dataset")),
                                             "sequence": {"type": "long"}}},
                    "error": {"properties": {**_keywords(("type",)), "message": {"type": "text"},
                                             "stack_trace": {"type": "text"}}},
                    "process": {"properties": {"pid": {"type": "long"}, "name": {"type": "keyword"},
                                               "thread": {"properties": {"id": {"type": "long"},
                                                                         "name": {"type": "keyword"}}}}},
                    "service": {"properties": _keywords(("name",))},
                    "host": {"properties": _keywords(("hostname",))},
                    "labels": {"type": "object", "dynamic": True},
                    NAMESPACE: {"properties": {**_keywords(FIELD_NAMES),
                                               "prefect": {"properties": _keywords(PREFECT_EXTRAS)},
                                               "job": {"properties": {
                                                   **_keywords(ACCOUNTING_KEYWORDS),
                                                   **{name: {"type": "double"}
                                                      for name in ACCOUNTING_NUMBERS}}}}},
                },
            },
        },
    }
