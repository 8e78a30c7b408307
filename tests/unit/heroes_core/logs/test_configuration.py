"""The switch: HEROES_LOG_FORMAT=ecs rewires a process's logging, and only that."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest

import heroes_core.logs as logs
from heroes_core.logs.configuration import LogSettings


def add_console() -> logging.Handler:
    """A console handler on the root logger, as Prefect's logging.yml installs one (made in the
    test itself: pytest swaps standard error between a fixture's set-up and the test)."""
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    return handler


def test_without_the_setting_nothing_but_redaction_changes() -> None:
    console = add_console()
    assert logs.configure(environ={}) is False
    assert console in logging.getLogger().handlers
    assert logging.getLogger("heroes_core").level == logging.NOTSET


def test_ecs_replaces_the_root_console_with_ecs_json_and_sets_heroes_levels(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # In a process where Prefect configured its logging (the full suite runs flows first), its API
    # handler on the run logger complains on standard error about a record logged outside a run:
    # this test is about the root console alone.
    monkeypatch.setattr(logging.getLogger("prefect.flow_runs"), "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # nor any handler an earlier test left
    console = add_console()
    assert logs.configure(environ={"HEROES_LOG_FORMAT": "ecs"}) is True
    root = logging.getLogger()
    assert console not in root.handlers
    assert logging.getLogger("heroes_core").level == logging.INFO
    assert logging.getLogger("heroes").level == logging.INFO
    with logs.log_context(organisation="acme"):
        logging.getLogger("heroes_core.jobs").info("submitted")
        logging.getLogger("prefect.flow_runs").warning("a run logger's record")
    lines = capsys.readouterr().err.splitlines()
    records = [logs.validate_line(line) for line in lines]
    assert [r.message for r in records] == ["submitted", "a run logger's record"]
    assert all(r.heroes and r.heroes.organisation == "acme" for r in records)


def test_reset_puts_everything_back() -> None:
    console = add_console()
    factory = logging.getLogRecordFactory()
    logs.configure("ecs", environ={})
    logs.reset()
    assert console in logging.getLogger().handlers
    assert logging.getLogRecordFactory() is factory
    assert logging.getLogger("heroes_core").level == logging.NOTSET


def test_heroes_log_file_sends_records_to_a_file_sink(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "heroes.ndjson"
    logs.configure(environ={"HEROES_LOG_FORMAT": "ecs", "HEROES_LOG_FILE": str(path)})
    logging.getLogger("heroes_core.test").info("to the file")
    logs.shutdown()
    (line,) = path.read_text().splitlines()
    assert logs.validate_line(line).message == "to the file"


def test_configuring_twice_adds_nothing_and_a_new_sink_replaces_the_old(tmp_path: Path) -> None:
    first, second = logs.FileSink(tmp_path / "a.ndjson"), logs.FileSink(tmp_path / "b.ndjson")
    logs.configure("ecs", sink=first, environ={})
    count = len(logging.getLogger().handlers)
    logs.configure("ecs", sink=first, environ={})
    assert len(logging.getLogger().handlers) == count
    logs.configure("ecs", sink=second, environ={})
    assert len(logging.getLogger().handlers) == count
    assert logs.current_sink() is second
    logging.getLogger("heroes.test").warning("to b")
    logs.shutdown()
    assert not (tmp_path / "a.ndjson").exists() or not (tmp_path / "a.ndjson").read_text()
    assert "to b" in (tmp_path / "b.ndjson").read_text()


def test_a_handler_already_attached_elsewhere_keeps_its_plain_format() -> None:
    """Prefect's API handler on prefect.flow_runs: the Prefect UI still shows plain messages."""
    stream = io.StringIO()
    api = logging.StreamHandler(stream)
    runs = logging.getLogger("prefect.flow_runs")
    runs.addHandler(api)
    try:
        logs.configure("ecs", environ={})
        runs.warning("plain for the UI")
    finally:
        runs.removeHandler(api)
    assert stream.getvalue() == "plain for the UI\n"


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, LogSettings()),
    ({"HEROES_LOG_FORMAT": " ECS ", "HEROES_LOG_LEVEL": "debug"}, LogSettings(format="ecs", level="DEBUG")),
])
def test_settings_are_read_from_the_environment(environ: dict[str, str], expected: LogSettings) -> None:
    assert LogSettings.from_environment(environ) == expected


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        LogSettings.from_environment({"HEROES_LOG_FORMAT": "xml"})
