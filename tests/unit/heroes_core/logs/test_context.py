"""The HEROES fields follow the work: nested, restored, copied into task threads, checked."""

from __future__ import annotations

import contextvars
import logging
import threading

import pytest
from pydantic import ValidationError

import heroes_core.logs as logs


def test_nested_contexts_add_fields_and_restore_the_outer_ones_on_exit() -> None:
    with logs.log_context(organisation="acme", user="alice"):
        with logs.log_context(job_key="k-1", user="bob"):
            assert dict(logs.current_fields()) == {"organisation": "acme", "user": "bob", "job_key": "k-1"}
        assert dict(logs.current_fields()) == {"organisation": "acme", "user": "alice"}
    assert dict(logs.current_fields()) == {}


def test_bind_adds_fields_until_the_enclosing_context_ends() -> None:
    with logs.log_context(organisation="acme"):
        logs.bind(job_id=4242, outcome="success")
        assert logs.current_fields()["job_id"] == "4242"
    assert "job_id" not in logs.current_fields()


def test_an_unknown_field_name_is_refused_where_it_is_set() -> None:
    with pytest.raises(ValidationError), logs.log_context(organization="acme"):  # American spelling
        pass


def test_none_values_are_ignored() -> None:
    with logs.log_context(organisation="acme", project=None):
        assert dict(logs.current_fields()) == {"organisation": "acme"}


def test_fields_reach_threads_started_with_a_copied_context_as_prefect_task_runners_do() -> None:
    seen: dict[str, str] = {}
    with logs.log_context(organisation="acme", step="train"):
        context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(lambda: seen.update(logs.current_fields()),))
    thread.start()
    thread.join()
    assert seen == {"organisation": "acme", "step": "train"}


def test_the_filter_stamps_fields_and_a_callers_own_fields_win() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "m", None, None)
    record.heroes = {"outcome": "failure"}
    with logs.log_context(organisation="acme", outcome="success"):
        assert logs.HeroesContextFilter().filter(record)
    assert record.heroes == {"organisation": "acme", "outcome": "failure"}
