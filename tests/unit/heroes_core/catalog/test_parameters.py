"""An application's parameter schema: checked when registered, applied to every run's parameters."""

from typing import Any

import pytest

from heroes_core.catalog import ApplicationCatalogue, InvalidParametersError
from heroes_core.errors import SpecError
from tests.unit.heroes_core.catalog.conftest import add


def register(catalogue: ApplicationCatalogue, schema: Any) -> None:
    catalogue.register("solver", organisation="acme", owner="packager", parameter_schema=schema)


def test_matching_parameters_pass(solver: ApplicationCatalogue) -> None:
    solver.validate_parameters("solver", "1.0", {"steps": 10, "mesh": {"cells": [1, 2.5]}, "mode": "fast"})


def test_every_offending_parameter_is_named_by_its_path(solver: ApplicationCatalogue) -> None:
    with pytest.raises(InvalidParametersError) as refused:
        solver.validate_parameters("solver", "1.0", {"steps": 0, "mesh": {"cells": [1, "two"]},
                                                     "mode": "slow", "colour": "red"})
    paths = [path for path, _ in refused.value.problems]
    assert paths == ["parameters", "parameters.mesh.cells[1]", "parameters.mode", "parameters.steps"]
    message = str(refused.value)
    assert "parameters.steps: 0 is less than the minimum of 1" in message
    assert "'colour' was unexpected" in message
    assert isinstance(refused.value, SpecError)


def test_a_missing_required_parameter_is_named_itself(solver: ApplicationCatalogue) -> None:
    with pytest.raises(InvalidParametersError) as refused:
        solver.validate_parameters("solver", "1.0", {"mesh": {}})
    assert refused.value.problems == (("parameters.mesh.cells", "is required"),
                                      ("parameters.steps", "is required"))


def test_parameters_that_are_not_an_object_are_refused(solver: ApplicationCatalogue) -> None:
    with pytest.raises(InvalidParametersError, match="parameters: \\[1, 2\\] is not of type 'object'"):
        solver.validate_parameters("solver", "1.0", [1, 2])


def test_parameters_are_checked_against_the_version_asked_for(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2, tags=["latest"],
        parameter_schema={"type": "object", "properties": {"threads": {"type": "integer"}},
                          "required": ["threads"]})
    solver.validate_parameters("solver", "latest", {"threads": 4})
    assert solver.get("solver", "2.0").parameter_schema["required"] == ["threads"]
    with pytest.raises(InvalidParametersError, match=r"parameters\.steps: is required"):
        solver.validate_parameters("solver", "1.0", {"threads": 4})


def test_formats_are_checked(catalogue: ApplicationCatalogue) -> None:
    register(catalogue, {"properties": {"contact": {"type": "string", "format": "email"}}})
    add(catalogue, "1.0", 1)
    with pytest.raises(InvalidParametersError, match=r"parameters\.contact: 'nobody' is not a 'email'"):
        catalogue.validate_parameters("solver", "1.0", {"contact": "nobody"})


def test_local_references_resolve(catalogue: ApplicationCatalogue) -> None:
    register(catalogue, {"$schema": "https://json-schema.org/draft/2020-12/schema",
                         "$defs": {"positive": {"type": "integer", "minimum": 1}},
                         "properties": {"steps": {"$ref": "#/$defs/positive"}}})
    add(catalogue, "1.0", 1)
    with pytest.raises(InvalidParametersError, match=r"parameters\.steps: -1 is less than the minimum"):
        catalogue.validate_parameters("solver", "1.0", {"steps": -1})


@pytest.mark.parametrize(("schema", "message"), [
    ({"type": "objekt"}, "not a valid JSON Schema .*at schema.type"),
    ({"properties": {"steps": {"minimum": "one"}}}, "at schema.properties.steps.minimum"),
    ({"$schema": "http://json-schema.org/draft-07/schema#"}, "declares \\$schema"),
    ({"properties": {"x": {"$ref": "https://example.org/s.json"}}}, "refers outside itself at "
                                                                     "schema.properties.x.\\$ref"),
    ({"properties": {"x": {"$ref": "#/$defs/missing"}}}, "refers to '#/\\$defs/missing'"),
    ({"default": float("nan")}, "not plain JSON"),
    ([{"type": "object"}], "must be a JSON object"),
])
def test_a_broken_schema_is_refused_when_registered(catalogue: ApplicationCatalogue, schema: Any,
                                                    message: str) -> None:
    with pytest.raises(SpecError, match=message):
        register(catalogue, schema)
    with pytest.raises(SpecError, match="unknown application"):
        catalogue.application("solver")


def test_a_broken_version_schema_is_refused(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match=r"parameter schema of solver 2\.0 is not a valid JSON Schema"):
        add(solver, "2.0", 2, parameter_schema={"required": "steps"})
