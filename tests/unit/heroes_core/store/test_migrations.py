"""The store's migrations build exactly the tables the modules declare, and know none of them."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import heroes_core.catalog.schema
import heroes_core.costs.schema
import heroes_core.decision.metadata
import heroes_core.decision.policy
import heroes_core.energy.policy
import heroes_core.enrolment.enrolments
import heroes_core.identity.grant_ledger
import heroes_core.monitor.schema
import heroes_core.store
from heroes_core.store import Base, Database

TABLE_MODULES = (heroes_core.catalog.schema, heroes_core.costs.schema, heroes_core.decision.metadata,
                 heroes_core.decision.policy,
                 heroes_core.energy.policy, heroes_core.enrolment.enrolments,
                 heroes_core.identity.grant_ledger, heroes_core.monitor.schema)


def test_migrations_build_exactly_the_tables_every_module_declares(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    try:
        with database.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        declared = {table.name for table in Base.metadata.sorted_tables}
        assert {"budgets", "job_records", "centre_enrolments", "grant_claims",
                "catalogue_versions", "energy_policies", "decision_policies",
                "tracked_jobs"} <= declared
    finally:
        database.dispose()


def test_store_imports_no_domain_module() -> None:
    store_dir = Path(heroes_core.store.__file__).parent
    imported: set[str] = set()
    for source in store_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    heroes_modules = {name for name in imported if name.startswith("heroes_core")}
    assert heroes_modules <= {"heroes_core.store"} | {
        name for name in heroes_modules if name.startswith("heroes_core.store.")}
