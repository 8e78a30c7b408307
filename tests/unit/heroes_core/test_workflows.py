"""Workflow specs are checked before anything runs."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from heroes_core.catalog import Application, ApplicationVersion, Catalog, RegisteredApplication
from heroes_core.catalog.runs import ResolvedApp
from heroes_core.errors import SpecError
from heroes_core.models import ImageRef
from heroes_core.workflows import WorkflowSpec

DIGEST = "sha256:" + "a" * 64


def spec(**overrides: object) -> WorkflowSpec:
    values: dict[str, object] = {
        "jobs": [{"id": j, "application": "sim", "command": ["true"]} for j in ("a", "b", "c", "d")],
        "edges": [{"parent": "a", "child": "b"}, {"parent": "a", "child": "c"},
                  {"parent": "b", "child": "d"}, {"parent": "c", "child": "d"}],
    }
    values.update(overrides)
    return WorkflowSpec.model_validate(values)


def test_levels_put_independent_jobs_together() -> None:
    assert spec().levels() == [["a"], ["b", "c"], ["d"]]


def test_a_cycle_is_refused_with_its_path() -> None:
    with pytest.raises(ValidationError, match="cycle"):
        spec(edges=[{"parent": "a", "child": "b"}, {"parent": "b", "child": "a"}])


def test_an_edge_to_an_unknown_job_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown job 'zz'"):
        spec(edges=[{"parent": "a", "child": "zz"}])


def test_duplicate_ids_negative_resources_and_bad_weights_are_refused() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        spec(jobs=[{"id": "a", "application": "sim", "command": ["x"]}] * 2, edges=[])
    with pytest.raises(ValidationError, match="cores\n  Input should be greater than or equal to 1"):
        spec(jobs=[{"id": "a", "application": "sim", "command": ["x"], "cores": -1}], edges=[])
    with pytest.raises(ValidationError, match="positive"):
        spec(strategy="weighted", weights={"time": 0, "cost": 0})
    with pytest.raises(ValidationError, match="positive"):
        spec(strategy="weighted")


def test_edge_files_cannot_escape() -> None:
    with pytest.raises(ValidationError, match="climbs out"):
        spec(edges=[{"parent": "a", "child": "b", "files": ["../../secret"]}])


def test_the_catalog_names_unknown_applications_and_unpublished_sites() -> None:
    catalog = Catalog(applications=[Application(name="sim", digest=DIGEST, images={"hpc1": "/i/sim.sif"})])
    assert catalog.get("sim").image_on("hpc1").path == "/i/sim.sif"
    with pytest.raises(SpecError, match=r"unknown application 'cfd'.*sim"):
        catalog.get("cfd")
    with pytest.raises(SpecError, match="not published on 'hpc2'"):
        catalog.get("sim").image_on("hpc2")


def test_a_child_reads_its_parents_files_from_their_outputs_in_the_archive() -> None:
    from heroes_core.models import ImageRef

    workflow = WorkflowSpec.model_validate({
        "jobs": [{"id": "mesh-2.d", "application": "sim", "command": ["mesh"]},
                 {"id": "solve", "application": "sim", "command": ["solve"], "cores": 4,
                  "inputs": ["inputs/config.yaml"], "env": {"STEPS": "10"}}],
        "edges": [{"parent": "mesh-2.d", "child": "solve", "files": ["mesh.h5", "out/log.txt"]}]})
    image = ImageRef(path="/images/sim.sif", digest=DIGEST)
    child = workflow.job_spec("solve", image=image, partition="batch",
                              keys={"mesh-2.d": "heroes-k1", "solve": "heroes-k2"})
    assert child.inputs == ["inputs/config.yaml", "jobs/heroes-k1/mesh.h5", "jobs/heroes-k1/out/log.txt"]
    assert child.env == {"STEPS": "10", "HEROES_PARENT_MESH_2_D": "jobs/heroes-k1"}
    assert (child.name, child.image, child.partition, child.cores, child.command) == (
        "solve", image, "batch", 4, ["solve"])
    root = workflow.job_spec("mesh-2.d", image=image, partition=None, keys={})
    assert root.inputs == [] and root.env == {}


def test_parents_a_child_could_not_tell_apart_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"'a-b' and 'a\.b' whose outputs would both be named "
                                              "HEROES_PARENT_A_B"):
        WorkflowSpec.model_validate({
            "jobs": [{"id": j, "application": "sim", "command": ["true"]} for j in ("a-b", "a.b", "c")],
            "edges": [{"parent": "a-b", "child": "c"}, {"parent": "a.b", "child": "c"}]})


def catalogue_spec(**job: object) -> WorkflowSpec:
    return WorkflowSpec.model_validate({
        "jobs": [{"id": "mesh", "application": "mesher", "command": ["mesh"]},
                 {"id": "solve", "application": "cfd", "version": "2.0", "parameters": {"steps": 3},
                  "inputs": ["case.cfg"], "env": {"OMP_PROC_BIND": "true"}, **job}],
        "edges": [{"parent": "mesh", "child": "solve", "files": ["mesh.dat"]}]})


def resolved_cfd(command: list[str]) -> ResolvedApp:
    schema = {"type": "object", "properties": {"steps": {"type": "integer"}}}
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return ResolvedApp(
        application=RegisteredApplication(name="cfd", organisation="acme", owner="paco", description="",
                                          metadata={}, parameter_schema=schema, command=tuple(command),
                                          registered_at=when),
        version=ApplicationVersion(name="cfd", version="2.0", digest=DIGEST, size_bytes=1,
                                   archive_key="_heroes/images/sha256/" + "a" * 64, parameter_schema=schema,
                                   registered_at=when, registered_by="paco", tested_digest_ok=True),
        publication=None)


def test_a_job_is_either_a_catalogue_application_or_a_raw_command_never_both() -> None:
    assert catalogue_spec().job("solve").from_catalogue and not catalogue_spec().job("mesh").from_catalogue
    with pytest.raises(ValidationError, match="gives a command and a version or parameters"):
        catalogue_spec(command=["rm", "-rf", "/"])


def test_a_catalogue_job_runs_its_packagers_command_with_its_parameters_and_its_parents_files() -> None:
    workflow = catalogue_spec()
    job = workflow.job("solve").app_job()
    assert (job.application, job.version, job.parameters, job.name) == ("cfd", "2.0", {"steps": 3}, "solve")
    run = workflow.job_spec("solve", image=ImageRef(path="/cache/x.sqfs", digest=DIGEST), partition="main",
                            keys={"mesh": "heroes-k1"}, resolved=resolved_cfd(["solver", "--steps", "{steps}"]))
    assert run.command == ["solver", "--steps", "3"] and run.partition == "main"
    assert run.inputs == ["case.cfg", "jobs/heroes-k1/mesh.dat"]
    assert run.env["HEROES_PARENT_MESH"] == "jobs/heroes-k1" and run.env["OMP_PROC_BIND"] == "true"
    assert json.loads(run.env["HEROES_PARAMETERS"]) == {"steps": 3}


def test_a_catalogue_job_is_not_run_unresolved_nor_in_another_image() -> None:
    workflow = catalogue_spec()
    with pytest.raises(SpecError, match="resolve it against the catalogue first"):
        workflow.job_spec("solve", image=ImageRef(path="/i", digest=DIGEST), partition=None, keys={"mesh": "k"})
    with pytest.raises(SpecError, match=r"not cfd 2\.0's"):
        workflow.job_spec("solve", image=ImageRef(path="/i", digest="sha256:" + "c" * 64), partition=None,
                          keys={"mesh": "k"}, resolved=resolved_cfd(["solver"]))


def test_a_jobs_gpus_reach_its_job_spec_in_both_forms() -> None:
    workflow = catalogue_spec(gpus=2, gpu_type="a100")
    workflow = WorkflowSpec.model_validate(workflow.model_dump() | {"jobs": [
        {**workflow.jobs[0].model_dump(), "gpus": 1}, workflow.jobs[1].model_dump()]})
    image = ImageRef(path="/cache/x.sqfs", digest=DIGEST)
    raw = workflow.job_spec("mesh", image=image, partition="gpu", keys={})
    assert (raw.gpus, raw.gpu_type) == (1, None)
    app = workflow.job_spec("solve", image=image, partition="gpu", keys={"mesh": "heroes-k1"},
                            resolved=resolved_cfd(["solver"]))
    assert (app.gpus, app.gpu_type) == (2, "a100")


def test_a_gpu_type_without_gpus_is_refused_with_the_workflow() -> None:
    with pytest.raises(ValidationError, match="gpu_type 'a100' is given without gpus"):
        catalogue_spec(gpu_type="a100")
