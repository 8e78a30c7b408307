"""Module 8, logging: ECS records with the HEROES fields, secrets taken out, and sinks.

* :func:`log_context` / :func:`bind` / :func:`job_log_context` set the HEROES fields
  (organisation, project, user, workflow id, job key, job id, step, site, outcome) that every
  record logged inside carries, under ``heroes.*`` (:mod:`heroes_core.logs.fields` says why).
* :class:`HeroesEcsFormatter` writes a record as an ECS JSON line (``ecs-logging``).
* :func:`register_secret` / :func:`register_secrets_of` and :func:`redact` keep secrets out.
* :class:`FileSink` (rotated NDJSON) and, in :mod:`heroes_core.logs.search` (imported on demand,
  as its client is slow to import), ``SearchSink`` (OpenSearch, bulk, spooled) keep the records.
* :func:`configure` is the switch: ``HEROES_LOG_FORMAT=ecs``.

Nothing here imports Prefect; the Prefect layer's ``heroes.blocks.LogSink`` block builds a sink
and calls :func:`configure`.
"""

from heroes_core.logs.configuration import (
    FILE_ENV,
    FORMAT_ENV,
    LEVEL_ENV,
    LogSettings,
    configure,
    current_sink,
    reset,
    shutdown,
)
from heroes_core.logs.context import (
    HeroesContextFilter,
    JobLike,
    bind,
    current_fields,
    job_fields,
    job_log_context,
    log_context,
)
from heroes_core.logs.ecs import HeroesEcsFormatter, from_ndjson, to_ndjson
from heroes_core.logs.fields import (
    ACCOUNTING_DATASET,
    DECISIONS_DATASET,
    FIELD_NAMES,
    NAMESPACE,
    AccountingFields,
    HeroesFields,
)
from heroes_core.logs.redaction import (
    REDACTED,
    SECRETS,
    RedactingFilter,
    redact,
    redact_record,
    register_secret,
    register_secrets_of,
    secrets_of,
)
from heroes_core.logs.report import FailureReporter
from heroes_core.logs.schema import EcsRecord, index_template, validate_line
from heroes_core.logs.settings import SinkSettings
from heroes_core.logs.sinks import FileSink, LogSink, SinkHandler, SinkStats
from heroes_core.logs.spool import Spool

__all__ = [
    "ACCOUNTING_DATASET",
    "DECISIONS_DATASET",
    "FIELD_NAMES",
    "FILE_ENV",
    "FORMAT_ENV",
    "LEVEL_ENV",
    "NAMESPACE",
    "REDACTED",
    "SECRETS",
    "AccountingFields",
    "EcsRecord",
    "FailureReporter",
    "FileSink",
    "HeroesContextFilter",
    "HeroesEcsFormatter",
    "HeroesFields",
    "JobLike",
    "LogSettings",
    "LogSink",
    "RedactingFilter",
    "SinkHandler",
    "SinkSettings",
    "SinkStats",
    "Spool",
    "bind",
    "configure",
    "current_fields",
    "current_sink",
    "from_ndjson",
    "index_template",
    "job_fields",
    "job_log_context",
    "log_context",
    "redact",
    "redact_record",
    "register_secret",
    "register_secrets_of",
    "reset",
    "secrets_of",
    "shutdown",
    "to_ndjson",
    "validate_line",
]
