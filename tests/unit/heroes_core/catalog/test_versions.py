"""Registering applications, adding immutable versions, tags and functional tests."""

import threading
from datetime import UTC, datetime

import pytest

import heroes_core.catalog.catalogue as catalogue_module
from heroes_core.catalog import Application, ApplicationCatalogue, AuditAction, Catalog
from heroes_core.errors import SpecError
from tests.unit.heroes_core.catalog.conftest import SCHEMA, T0, add, digest, passed_test


def test_register_keeps_owners_description_metadata_and_schema(catalogue: ApplicationCatalogue) -> None:
    registered = catalogue.register("solver", organisation="acme", owner="packager", parameter_schema=SCHEMA,
                                    description="a CFD solver", metadata={"licence": "GPL-3.0"}, at=T0)
    again = catalogue.application("solver")
    assert registered == again
    assert (again.organisation, again.owner, again.description) == ("acme", "packager", "a CFD solver")
    assert again.metadata == {"licence": "GPL-3.0"}
    assert again.parameter_schema == SCHEMA
    assert again.registered_at == T0
    assert again.versions == ()


def test_a_name_is_registered_once(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match="'solver' is already registered"):
        solver.register("solver", organisation="other", owner="mallory", parameter_schema={})
    assert solver.application("solver").organisation == "acme"


@pytest.mark.parametrize(("field", "value"), [
    ("name", "-solver"), ("name", "a" * 65), ("name", "sol ver"),
    ("organisation", "ACME"), ("organisation", "a"), ("owner", "bad/user"),
])
def test_register_refuses_malformed_names(catalogue: ApplicationCatalogue, field: str, value: str) -> None:
    arguments = {"name": "solver", "organisation": "acme", "owner": "packager"} | {field: value}
    with pytest.raises(SpecError, match="is not valid"):
        catalogue.register(arguments["name"], organisation=arguments["organisation"],
                           owner=arguments["owner"], parameter_schema={})


def test_metadata_must_be_plain_json(catalogue: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match="metadata of 'solver' is not plain JSON"):
        catalogue.register("solver", organisation="acme", owner="packager", parameter_schema={},
                           metadata={"when": datetime.now(UTC)})


def test_a_version_records_its_archived_image(solver: ApplicationCatalogue) -> None:
    version = solver.get("solver", "1.0")
    assert (version.name, version.version, version.digest) == ("solver", "1.0", digest(1))
    assert (version.archive_key, version.size_bytes) == ("_heroes/images/1.sif", 1001)
    assert (version.registered_by, version.registered_at) == ("packager", T0)
    assert version.tested_digest_ok is False and version.publications == ()


@pytest.mark.parametrize("version", ["1", "2.0.1", "1.0.0-rc.1+build_7", "v" * 64])
def test_version_strings_may_use_letters_digits_dot_dash_underscore_plus(
        solver: ApplicationCatalogue, version: str) -> None:
    assert add(solver, version, 2).version == version


@pytest.mark.parametrize("version", ["", "1 0", "1/0", "v" * 65, "1.0;rm", "é"])
def test_malformed_version_strings_are_refused(solver: ApplicationCatalogue, version: str) -> None:
    with pytest.raises(SpecError, match=r"version .* is not valid"):
        add(solver, version, 2)


def test_a_version_string_is_never_reused_and_its_image_never_replaced(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match=r"already has version '1\.0'") as refused:
        add(solver, "1.0", 2)
    assert "new version" in str(refused.value)
    assert solver.get("solver", "1.0").digest == digest(1)
    assert [v.version for v in solver.application("solver").versions] == ["1.0"]


def test_one_image_cannot_be_two_versions_of_one_application(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match=r"is already version '1\.0' of 'solver'"):
        add(solver, "1.1", 1)
    assert [v.version for v in solver.application("solver").versions] == ["1.0"]


def test_another_application_may_ship_the_same_image(solver: ApplicationCatalogue) -> None:
    solver.register("solver-gpu", organisation="acme", owner="packager", parameter_schema={})
    assert add(solver, "1.0", 1, name="solver-gpu").digest == digest(1)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("archive_key", "/abs/image.sif", "absolute"), ("archive_key", "../x.sif", r"'\.\.'"),
    ("archive_key", "", "empty"), ("archive_key", "k" * 1025, "1025 characters"),
    ("size_bytes", 0, "not a positive number"), ("size_bytes", True, "not a positive number"),
    ("digest", "sha256:abc", "digest"), ("actor", "", "actor"),
])
def test_add_version_refuses_malformed_image_records(solver: ApplicationCatalogue, field: str,
                                                     value: object, message: str) -> None:
    arguments: dict[str, object] = {"digest": digest(2), "archive_key": "images/2.sif", "size_bytes": 5,
                                    "actor": "packager"} | {field: value}
    with pytest.raises(SpecError, match=message):
        solver.add_version("solver", "2.0", **arguments)  # type: ignore[arg-type]


def test_get_resolves_a_version_exactly_or_a_tag(solver: ApplicationCatalogue) -> None:
    add(solver, "1.1", 2, tags=["latest"])
    add(solver, "1.10", 3)
    assert solver.get("solver", "1.1").digest == digest(2)
    assert solver.get("solver", "1.10").digest == digest(3)
    assert solver.get("solver", "latest").version == "1.1"


def test_a_tag_moves_between_versions_and_the_move_is_audited(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2, tags=["latest"])
    solver.tag("solver", "1.0", "latest", actor="maintainer")
    assert solver.get("solver", "latest").version == "1.0"
    assert solver.get("solver", "2.0").tags == ()
    moves = [e for e in solver.audit("solver") if e.action is AuditAction.TAG]
    assert [(e.version, e.detail, e.actor) for e in moves] == [
        ("2.0", {"tag": "latest", "from": None}, "packager"),
        ("1.0", {"tag": "latest", "from": "2.0"}, "maintainer")]


def test_a_version_may_carry_several_tags(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2, tags=["latest", "stable", "latest"])
    assert solver.get("solver", "stable").tags == ("latest", "stable")


def test_untag_removes_the_name(solver: ApplicationCatalogue) -> None:
    solver.tag("solver", "1.0", "stable", actor="packager")
    solver.untag("solver", "stable", actor="packager")
    with pytest.raises(SpecError, match="no version or tag 'stable'"):
        solver.get("solver", "stable")
    with pytest.raises(SpecError, match="has no tag 'stable'"):
        solver.untag("solver", "stable", actor="packager")


def test_tags_and_versions_never_share_a_name(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2)
    with pytest.raises(SpecError, match=r"'2\.0' is a version of 'solver'"):
        solver.tag("solver", "1.0", "2.0", actor="packager")
    solver.tag("solver", "1.0", "next", actor="packager")
    with pytest.raises(SpecError, match="'next' is a tag of 'solver'"):
        add(solver, "next", 3)


def test_tag_needs_an_exact_version(solver: ApplicationCatalogue) -> None:
    solver.tag("solver", "1.0", "latest", actor="packager")
    with pytest.raises(SpecError, match="no version 'latest'"):
        solver.tag("solver", "latest", "stable", actor="packager")


def test_unknown_names_list_what_exists(solver: ApplicationCatalogue) -> None:
    solver.tag("solver", "1.0", "latest", actor="packager")
    with pytest.raises(SpecError, match="unknown application 'solvr'") as unknown_app:
        solver.get("solvr", "1.0")
    assert "use one of: solver" in str(unknown_app.value)
    with pytest.raises(SpecError, match=r"'solver' has no version or tag '9\.9'") as unknown_version:
        solver.get("solver", "9.9")
    assert "use a version (1.0) or a tag (latest)" in str(unknown_version.value)


def test_adding_a_version_is_all_or_nothing(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match=r"tag .* is not valid"):
        add(solver, "2.0", 2, tags=["latest", "bad tag"])
    assert [v.version for v in solver.application("solver").versions] == ["1.0"]
    with pytest.raises(SpecError, match="no version or tag 'latest'"):
        solver.get("solver", "latest")
    assert [e.action for e in solver.audit("solver")] == [AuditAction.REGISTER, AuditAction.ADD_VERSION]


def test_registering_is_all_or_nothing(catalogue: ApplicationCatalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("the audit could not be written")

    monkeypatch.setattr(catalogue_module, "_event", fail)
    with pytest.raises(RuntimeError):
        catalogue.register("solver", organisation="acme", owner="packager", parameter_schema={})
    monkeypatch.undo()
    with pytest.raises(SpecError, match="unknown application 'solver'"):
        catalogue.application("solver")


def test_two_writers_adding_one_version_string_leave_one_version(solver: ApplicationCatalogue) -> None:
    outcomes: list[str] = []

    def writer(image: int) -> None:
        try:
            add(solver, "2.0", image)
            outcomes.append("added")
        except SpecError:
            outcomes.append("refused")

    threads = [threading.Thread(target=writer, args=(image,)) for image in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added", "refused"]
    assert [v.version for v in solver.application("solver").versions] == ["1.0", "2.0"]


def test_a_functional_test_is_recorded_for_the_version_it_ran(solver: ApplicationCatalogue) -> None:
    at = datetime(2025, 3, 2, tzinfo=UTC)
    version = solver.record_functional_test("solver", "1.0", digest=digest(1), passed=True,
                                            flow_run_id="0b7c-run", at=at)
    assert (version.tested_digest_ok, version.tested_at, version.tested_flow_run_id) == (True, at, "0b7c-run")
    assert solver.get("solver", "1.0").tested_digest_ok is True


def test_a_functional_test_of_another_image_does_not_count(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match=f"ran image {digest(9)}, but version '1.0'"):
        solver.record_functional_test("solver", "1.0", digest=digest(9), passed=True, flow_run_id="r")
    assert solver.get("solver", "1.0").tested_digest_ok is False


def test_a_failed_functional_test_clears_an_earlier_pass(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    solver.record_functional_test("solver", "1.0", digest=digest(1), passed=False, flow_run_id="r2")
    version = solver.get("solver", "1.0")
    assert (version.tested_digest_ok, version.tested_flow_run_id) == (False, "r2")


def test_the_placement_catalog_still_answers_the_planner() -> None:
    application = Application(name="busybox", version="1", digest=digest(1), images={"alpha": "/img/b.sif"})
    found = Catalog(applications=[application]).get("busybox")
    assert found.image_on("alpha").path == "/img/b.sif"
    with pytest.raises(SpecError, match="not published on 'beta'"):
        found.image_on("beta")
