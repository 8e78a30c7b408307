"""Every kind of record HEROES writes is an ECS document with the HEROES fields, typed."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from pydantic import ValidationError

import heroes_core.logs as logs
from heroes_core.jobs import JobContext
from heroes_core.logs import FIELD_NAMES, EcsRecord, HeroesFields, validate_line
from tests.unit.heroes_core.logs.helpers import capture

ALL_FIELDS = {"organisation": "acme", "project": "climate", "user": "alice", "workflow_id": "wf-1",
              "job_key": "k-1", "job_id": "4242", "step": "prepare", "site": "local-slurm",
              "outcome": "success"}


def lines_of(stream) -> list[str]:  # type: ignore[no-untyped-def]
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def emit_every_record_type(logger: logging.Logger) -> None:
    """One of each record HEROES emits: plain, with arguments, in a job's context with every
    HEROES field, an exception, a stack, a Prefect flow-run and task-run record, caller extras,
    non-ASCII text, and a warning from the core without any context."""
    logger.info("plain message")
    logger.debug("with %s and %d", "arguments", 3)
    with logs.log_context(**ALL_FIELDS):
        logger.info("in a job's context")
        try:
            raise RuntimeError("the centre said no")
        except RuntimeError:
            logger.exception("an exception")
        logger.warning("with a stack", stack_info=True)
    flow_run = logging.LoggerAdapter(logger, {"flow_run_id": str(uuid.uuid4()), "flow_run_name": "brave-fox",
                                              "flow_name": "run-job-direct", "send_to_api": False})
    flow_run.info("a Prefect flow run record")
    task_run = logging.LoggerAdapter(logger, {"task_run_id": str(uuid.uuid4()), "task_run_name": "submit_job-0",
                                              "task_name": "submit_job", "flow_run_id": str(uuid.uuid4())})
    task_run.error("a Prefect task run record")
    logger.info("caller extras", extra={"status": 200, "detail": {"nested": [1, 2]}})
    logger.critical("non-ASCII: énergie ⚡ 能源")
    with logs.log_context(**ALL_FIELDS):
        logger.info("a job's accounting", extra={"event.dataset": logs.ACCOUNTING_DATASET, "heroes": {"job": {
            "application": "solver", "state": "COMPLETED", "cores": 4, "nodes": 1, "used_time_s": 90.0,
            "core_hours": 0.1, "energy_j": 660, "energy_source": "slurm", "cost": 0.02, "currency": "EUR"}}})


def test_every_record_type_is_a_valid_ecs_document_with_typed_heroes_fields() -> None:
    logger, stream = capture("heroes_core.test.records")
    emit_every_record_type(logger)
    lines = lines_of(stream)
    assert len(lines) == 10
    records = [validate_line(line) for line in lines]
    for line, record in zip(lines, records, strict=True):
        raw = json.loads(line)
        assert list(raw)[:4] == ["@timestamp", "log.level", "message", "ecs.version"], line
        assert record.log.logger == "heroes_core.test.records"
        assert record.ecs.version
    in_context = records[2:5]
    for record in in_context:
        assert record.heroes is not None
        assert record.heroes.model_dump(exclude={"prefect", "job"}) == ALL_FIELDS
        assert record.event is not None and record.event.outcome == "success"
    assert records[0].heroes is None  # no context, no fields invented
    assert records[3].model_extra and records[3].model_extra["error"]["type"] == "RuntimeError"
    assert "the centre said no" in records[3].model_extra["error"]["message"]
    assert "stack_trace" in records[4].model_extra["error"]
    flow, task = records[5].heroes, records[6].heroes
    assert flow is not None and flow.prefect is not None and flow.prefect.flow_name == "run-job-direct"
    assert task is not None and task.prefect is not None and task.prefect.task_name == "submit_job"
    assert records[7].labels == {"status": "200", "detail": '{"nested": [1, 2]}'}
    assert records[8].message == "non-ASCII: énergie ⚡ 能源"
    assert "send_to_api" not in lines[5]
    accounting = records[9]
    assert accounting.event is not None and accounting.event.dataset == "heroes.accounting"
    assert accounting.heroes is not None and accounting.heroes.job is not None
    assert (accounting.heroes.job.energy_j, accounting.heroes.job.energy_source) == (660.0, "slurm")
    assert accounting.heroes.job_key == ALL_FIELDS["job_key"]  # stamped like every record of the job


def test_records_through_the_sink_handler_carry_a_sequence_and_validate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sink = logs.FileSink(tmp_path / "heroes.ndjson")
    logger = logging.getLogger("heroes.test.sinkhandler")
    logger.handlers[:] = [logs.SinkHandler(sink)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    emit_every_record_type(logger)
    sink.close()
    lines = (tmp_path / "heroes.ndjson").read_text().splitlines()
    records = [validate_line(line) for line in lines]
    assert [r.event.sequence for r in records if r.event] == list(range(1, 11))


def test_the_document_holds_the_same_fields_as_ecs_loggings_own_formatter() -> None:
    """The formatter builds its document directly, for speed: it must say what ecs-logging says."""
    import ecs_logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("heroes_core.test.contract")
    logger.handlers[:] = [Keep()]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    emit_every_record_type(logger)
    logger.info("ecs extras", extra={"event.action": "submit", "http": {"request": {"method": "GET"}}})
    theirs_formatter, ours_formatter = ecs_logging.StdlibFormatter(), logs.HeroesEcsFormatter()
    for record in records:
        ours = ours_formatter.format_to_ecs(record)
        theirs = logs.from_ndjson(theirs_formatter.format(record))
        theirs["log"].pop("original")
        for name in ("flow_run_id", "flow_run_name", "flow_name", "task_run_id", "task_run_name",
                     "task_name", "send_to_api", "status", "detail", "heroes"):
            theirs.pop(name, None)
        for key, value in theirs.items():
            if key == "event":
                assert ours[key] | value == ours[key]
            else:
                assert ours[key] == value, (record.getMessage(), key)
    assert ours["event"] == {"action": "submit"} and ours["http"] == {"request": {"method": "GET"}}


def test_the_schema_refuses_a_record_without_ecs_version_or_with_a_mistyped_field() -> None:
    logger, stream = capture("heroes_core.test.schema")
    with logs.log_context(organisation="acme"):
        logger.info("good")
    good = json.loads(lines_of(stream)[0])
    validate_line(json.dumps(good))
    for broken in ({k: v for k, v in good.items() if k != "ecs.version"},
                   {**good, "heroes": {"organisation": 7}},
                   {**good, "heroes": {"organisation": "acme", "colour": "blue"}},
                   {**good, "@timestamp": "2024-01-01T00:00:00+02:00"},
                   {**good, "flow_run_id": "stray top-level field"}):
        with pytest.raises(ValidationError):
            validate_line(json.dumps(broken))


def test_job_log_context_stamps_a_jobs_fields() -> None:
    logger, stream = capture("heroes_core.test.job")
    job = JobContext.for_run(str(uuid.uuid4()), organisation="acme", user="alice", site="local-slurm",
                             project="climate", step="train")
    with logs.job_log_context(job, job_id="99"):
        logger.info("submitted")
    record = validate_line(lines_of(stream)[0])
    assert record.heroes is not None
    assert record.heroes.model_dump(exclude_none=True, exclude={"prefect"}) == {
        "organisation": "acme", "user": "alice", "project": "climate", "workflow_id": job.workflow_id,
        "step": "train", "job_key": job.key, "site": "local-slurm", "job_id": "99"}


def test_the_record_model_covers_every_heroes_field() -> None:
    assert set(FIELD_NAMES) == set(HeroesFields.model_fields)
    assert set(FIELD_NAMES) == {"organisation", "project", "user", "workflow_id", "job_key", "job_id",
                                "step", "site", "outcome"}
    assert "heroes" in EcsRecord.model_fields


def test_the_index_template_maps_every_heroes_field_as_a_keyword() -> None:
    template = logs.index_template("heroes-logs")
    assert template["index_patterns"] == ["heroes-logs-*"]
    heroes = template["template"]["mappings"]["properties"]["heroes"]["properties"]
    assert {name: heroes[name]["type"] for name in FIELD_NAMES} == dict.fromkeys(FIELD_NAMES, "keyword")
    assert template["template"]["mappings"]["properties"]["@timestamp"] == {"type": "date"}


def test_a_console_line_is_the_same_json_as_the_file_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("ecs", environ={})
    logging.getLogger("heroes_core.test.console").info("to the console")
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "nothing on standard error"
    record = validate_line(err[-1])
    assert record.message == "to the console"


def test_the_index_template_types_a_jobs_figures_for_dashboards_to_sum() -> None:
    job = logs.index_template("heroes-logs")["template"]["mappings"]["properties"]["heroes"]["properties"]["job"]
    types = {name: mapping["type"] for name, mapping in job["properties"].items()}
    assert set(types) == set(logs.AccountingFields.model_fields)
    assert types["energy_j"] == types["cost"] == types["core_hours"] == types["predicted_time_s"] == "double"
    assert types["application"] == types["energy_source"] == "keyword"
