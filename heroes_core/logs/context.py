"""The HEROES fields of the work in hand, carried by a context variable and stamped on records.

A context variable rather than a logger adapter: the fields are set once where a job's context
is known (its flow) and reach every record logged below it, the core's own loggers and
Prefect's run loggers included, without any function passing them on. Prefect copies the
context into the threads its task runner starts, so tasks see their flow's fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Protocol

from heroes_core.logs.fields import NAMESPACE, HeroesFields

_EMPTY: Mapping[str, str] = MappingProxyType({})
_FIELDS: ContextVar[Mapping[str, str]] = ContextVar("heroes_log_fields", default=_EMPTY)


class JobLike(Protocol):
    """What :func:`job_fields` reads: the attributes of :class:`heroes_core.jobs.JobContext`.

    A protocol rather than an import, so that this package stays at the bottom of the core's
    layers and any module, ``jobs`` included, can log with the fields.
    """

    @property
    def organisation(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def project(self) -> str | None: ...
    @property
    def workflow_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def site(self) -> str: ...


def _checked(fields: Mapping[str, object]) -> dict[str, str]:
    """``fields`` with their values as strings and ``None`` dropped; unknown names refused."""
    given = {name: str(value) for name, value in fields.items() if value is not None}
    HeroesFields.model_validate(given)
    return given


def current_fields() -> Mapping[str, str]:
    """The HEROES fields in force here (read-only)."""
    return _FIELDS.get()


@contextmanager
def log_context(**fields: object) -> Iterator[Mapping[str, str]]:
    """Stamp ``fields`` (``organisation=``, ``job_key=``, ...) on every record logged inside.

    Nested contexts add to the enclosing one and win where both set a field; leaving the block
    restores what was in force before. ``None`` values are ignored, so optional fields can be
    passed as they are.
    """
    merged = MappingProxyType({**_FIELDS.get(), **_checked(fields)})
    token = _FIELDS.set(merged)
    try:
        yield merged
    finally:
        _FIELDS.reset(token)


def bind(**fields: object) -> None:
    """Add ``fields`` for the rest of the enclosing :func:`log_context` (e.g. the job id once
    the job is submitted, the outcome once it ends); that context's exit undoes it too."""
    _FIELDS.set(MappingProxyType({**_FIELDS.get(), **_checked(fields)}))


def job_fields(job: JobLike) -> dict[str, str]:
    """The HEROES fields of a job's context (organisation, user, project, workflow, step, key, site)."""
    return _checked({"organisation": job.organisation, "user": job.user, "project": job.project,
                     "workflow_id": job.workflow_id, "step": job.step, "job_key": job.key,
                     "site": job.site})


@contextmanager
def job_log_context(job: JobLike, **more: object) -> Iterator[Mapping[str, str]]:
    """:func:`log_context` with a job's fields (:func:`job_fields`), plus ``more`` (``job_id=``)."""
    with log_context(**{**job_fields(job), **more}) as fields:
        yield fields


class HeroesContextFilter(logging.Filter):
    """Stamps the HEROES fields in force on each record, as ``record.heroes``.

    Fields a call passes itself (``extra={"heroes": {"outcome": "failure"}}``) win over the
    context's. The filter never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        stamp_record(record)
        return True


def stamp_record(record: logging.LogRecord) -> None:
    """Set ``record.heroes`` to the fields in force merged with those the call passed."""
    fields = _FIELDS.get()
    given = record.__dict__.get(NAMESPACE)
    if isinstance(given, Mapping):
        if not fields:
            return
        record.__dict__[NAMESPACE] = {**fields, **given}
    elif fields:
        record.__dict__[NAMESPACE] = dict(fields)
