"""Running an application by name: the catalogue decides what may run, with which command and image."""

from __future__ import annotations

import json

import pytest

from heroes_core.catalog import ApplicationCatalogue, InvalidParametersError, PublicationTarget
from heroes_core.catalog.command import PARAMETERS_ENV, check_command, render_command
from heroes_core.catalog.runs import AppJob, job_spec, resolve
from heroes_core.errors import NotInArchiveError, SpecError
from heroes_core.models import ImageRef

from .conftest import SCHEMA, add, digest

COMMAND = ["solver", "--steps", "{steps}", "--mode={mode}", "--mesh={mesh}"]


@pytest.fixture
def runnable(catalogue: ApplicationCatalogue) -> ApplicationCatalogue:
    catalogue.register("solver", organisation="acme", owner="packager", parameter_schema=SCHEMA,
                       command=COMMAND)
    add(catalogue, "1.0", 1)
    return catalogue


def test_placeholders_become_one_argument_each_and_unset_ones_drop_their_argument() -> None:
    argv = render_command(COMMAND, {"steps": 3, "mesh": {"cells": [1, 2]}})
    assert argv == ["solver", "--steps", "3", '--mesh={"cells": [1, 2]}']
    assert render_command(["run", "{mode}"], {"mode": "a; rm -rf / $(x)"}) == ["run", "a; rm -rf / $(x)"]


def test_a_command_may_name_only_declared_parameters() -> None:
    assert check_command(COMMAND, SCHEMA) == COMMAND
    with pytest.raises(SpecError, match=r"names parameter\(s\) nope its schema does not declare"):
        check_command(["x", "{nope}"], SCHEMA)
    with pytest.raises(SpecError, match="non-empty text"):
        check_command(["x", ""], SCHEMA)


def test_the_owner_organisation_runs_its_untested_version_with_its_own_command(
        runnable: ApplicationCatalogue) -> None:
    job = AppJob(application="solver", version="1.0", parameters={"steps": 2}, cores=2)
    resolved = resolve(runnable, job, organisation="acme", project=None)
    assert resolved.publication is None
    spec = job_spec(job, resolved, ImageRef(path="/images/cache/x.sqfs", digest=digest(1)))
    assert spec.command == ["solver", "--steps", "2"] and spec.cores == 2 and spec.name == "solver"
    assert json.loads(spec.env[PARAMETERS_ENV]) == {"steps": 2}
    with pytest.raises(SpecError, match=r"not solver 1\.0's"):
        job_spec(job, resolved, ImageRef(path="/images/cache/x.sqfs", digest=digest(2)))


def test_parameters_the_schema_refuses_are_refused_before_anything_runs(runnable: ApplicationCatalogue) -> None:
    with pytest.raises(InvalidParametersError, match="steps"):
        resolve(runnable, AppJob(application="solver", version="1.0", parameters={"steps": 0}),
                organisation="acme", project=None)


def test_another_organisation_runs_only_a_tested_version_published_to_it(runnable: ApplicationCatalogue) -> None:
    job = AppJob(application="solver", version="1.0", parameters={"steps": 1})
    with pytest.raises(NotInArchiveError, match=r"no application solver 1\.0 that globex/cfd may run"):
        resolve(runnable, job, organisation="globex", project="cfd")
    runnable.record_functional_test("solver", "1.0", digest=digest(1), passed=True, flow_run_id="run-1")
    runnable.publish("solver", "1.0", [PublicationTarget.of_project("globex", "cfd")], licence_terms="per run",
                     price_offering="solver-licence", actor="packager")
    resolved = resolve(runnable, job, organisation="globex", project="cfd")
    assert resolved.publication is not None and resolved.publication.price_offering == "solver-licence"
    with pytest.raises(NotInArchiveError):
        resolve(runnable, job, organisation="globex", project="other")


def test_an_application_without_a_command_cannot_be_run_by_name(catalogue: ApplicationCatalogue) -> None:
    catalogue.register("bare", organisation="acme", owner="packager", parameter_schema=SCHEMA)
    add(catalogue, "1.0", 7, name="bare")
    with pytest.raises(SpecError, match="has no command"):
        resolve(catalogue, AppJob(application="bare", version="1.0", parameters={"steps": 1}),
                organisation="acme", project=None)
