"""Workflow specs are checked before anything runs."""

import pytest
from pydantic import ValidationError

from heroes_core.catalog import Application, Catalog
from heroes_core.errors import SpecError
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
