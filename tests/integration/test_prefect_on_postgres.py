"""The test bed's Prefect server keeps its runs in PostgreSQL, as production does (docs/production.md):
the suite's runs, automations and concurrent workers all go through the backend production uses."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy
from prefect import flow


def test_a_flow_run_is_a_row_of_the_prefect_servers_postgresql_database(testbed: dict[str, Any]) -> None:
    name = f"pg-probe-{uuid.uuid4().hex[:8]}"

    @flow(name=name)
    def probe() -> int:
        return 1

    state: Any = probe(return_state=True)
    assert state.is_completed(), state.message
    engine = sqlalchemy.create_engine(testbed["prefect"]["database_url"])
    try:
        with engine.connect() as connection:
            row = connection.execute(sqlalchemy.text(
                "select flow_run.state_type, flow.name from flow_run join flow on flow.id = flow_run.flow_id "
                "where flow_run.id = :id"), {"id": state.state_details.flow_run_id}).one()
    finally:
        engine.dispose()
    assert (str(row.state_type), row.name) == ("COMPLETED", name)
