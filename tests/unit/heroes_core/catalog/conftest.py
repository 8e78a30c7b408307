"""The catalogue over the shared throw-away database (``tests/unit/heroes_core/conftest.py``)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from heroes_core.catalog import ApplicationCatalogue, ApplicationVersion
from heroes_core.store import Database

SCHEMA = {
    "type": "object",
    "properties": {
        "steps": {"type": "integer", "minimum": 1},
        "mesh": {"type": "object", "properties": {"cells": {"type": "array", "items": {"type": "number"}}},
                 "required": ["cells"]},
        "mode": {"enum": ["fast", "exact"]},
    },
    "required": ["steps"],
    "additionalProperties": False,
}
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def catalogue(database: Database) -> ApplicationCatalogue:
    return ApplicationCatalogue(database)


@pytest.fixture
def solver(catalogue: ApplicationCatalogue) -> ApplicationCatalogue:
    """'solver' of organisation 'acme', with version 1.0 (image 1) registered, not yet tested."""
    catalogue.register("solver", organisation="acme", owner="packager", parameter_schema=SCHEMA,
                       description="a CFD solver", metadata={"homepage": "https://example.org"}, at=T0)
    add(catalogue, "1.0", 1)
    return catalogue


def add(catalogue: ApplicationCatalogue, version: str, image: int, name: str = "solver",
        **kwargs: Any) -> ApplicationVersion:
    return catalogue.add_version(name, version, digest=digest(image), archive_key=f"_heroes/images/{image}.sif",
                                 size_bytes=1000 + image, actor="packager", at=T0, **kwargs)


def passed_test(catalogue: ApplicationCatalogue, version: str, image: int, name: str = "solver") -> None:
    catalogue.record_functional_test(name, version, digest=digest(image), passed=True,
                                     flow_run_id=f"run-{version}", at=T0)
