"""Publishing versions to projects, organisations or everyone, and who may then run them."""

import itertools

import pytest
from pydantic import ValidationError

import heroes_core.catalog.catalogue as catalogue_module
from heroes_core.catalog import ApplicationCatalogue, AuditAction, PublicationScope, PublicationTarget
from heroes_core.errors import SpecError
from tests.unit.heroes_core.catalog.conftest import T0, add, digest, passed_test

EVERYONE = PublicationTarget.everyone()
BETA = PublicationTarget.of_organisation("beta")
BETA_FLUIDS = PublicationTarget.of_project("beta", "fluids")


def publish(catalogue: ApplicationCatalogue, version: str, *targets: PublicationTarget,
            licence: str = "academic use only", price: str = "solver-per-run") -> None:
    catalogue.publish("solver", version, list(targets), licence_terms=licence, price_offering=price,
                      actor="provider", at=T0)


def test_publishing_an_untested_version_is_refused(solver: ApplicationCatalogue) -> None:
    with pytest.raises(SpecError, match="has not passed its functional test") as refused:
        publish(solver, "1.0", EVERYONE)
    assert "run the functional test" in str(refused.value)
    assert solver.get("solver", "1.0").publications == ()
    assert solver.audit("solver")[-1].action is AuditAction.ADD_VERSION


def test_a_published_version_carries_its_terms(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", BETA_FLUIDS)
    (publication,) = solver.get("solver", "1.0").publications
    assert publication.target == BETA_FLUIDS
    assert (publication.licence_terms, publication.price_offering) == ("academic use only", "solver-per-run")
    assert (publication.published_by, publication.published_at) == ("provider", T0)


def test_publishing_a_tag_publishes_the_version_it_points_at(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2, tags=["latest"])
    passed_test(solver, "2.0", 2)
    publish(solver, "latest", EVERYONE)
    solver.tag("solver", "1.0", "latest", actor="provider")
    assert solver.get("solver", "2.0").publications[0].target == EVERYONE
    assert not solver.can_run("solver", "latest", "beta")


def test_a_project_publication_admits_only_that_projects_members(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", BETA_FLUIDS)
    assert solver.can_run("solver", "1.0", "beta", "fluids")
    assert not solver.can_run("solver", "1.0", "beta", "optics")
    assert not solver.can_run("solver", "1.0", "beta")
    assert not solver.can_run("solver", "1.0", "gamma", "fluids")


def test_an_organisation_publication_admits_all_its_users(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", BETA)
    assert solver.can_run("solver", "1.0", "beta", "optics")
    assert solver.can_run("solver", "1.0", "beta")
    assert not solver.can_run("solver", "1.0", "gamma")


def test_an_everyone_publication_admits_any_organisation(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", EVERYONE)
    assert solver.can_run("solver", "1.0", "gamma")


def test_the_owner_organisation_may_run_its_versions_tested_or_not(solver: ApplicationCatalogue) -> None:
    assert solver.can_run("solver", "1.0", "acme")
    assert not solver.can_run("solver", "1.0", "beta")


def test_unknown_applications_and_versions_are_not_runnable(solver: ApplicationCatalogue) -> None:
    assert not solver.can_run("solvr", "1.0", "acme")
    assert not solver.can_run("solver", "9.9", "acme")


def test_a_publication_covers_one_version_only(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2)
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", EVERYONE)
    assert not solver.can_run("solver", "2.0", "beta")


def test_a_failed_functional_test_withdraws_the_version_from_others(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", EVERYONE)
    solver.record_functional_test("solver", "1.0", digest=digest(1), passed=False, flow_run_id="r2")
    assert not solver.can_run("solver", "1.0", "beta")
    assert solver.visible_to("beta") == []
    assert solver.can_run("solver", "1.0", "acme")


def test_unpublish_removes_one_target_only(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", BETA, BETA_FLUIDS)
    version = solver.unpublish("solver", "1.0", BETA, actor="provider")
    assert [p.target for p in version.publications] == [BETA_FLUIDS]
    assert not solver.can_run("solver", "1.0", "beta", "optics")
    assert solver.can_run("solver", "1.0", "beta", "fluids")


def test_unpublishing_where_it_is_not_published_names_where_it_is(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", BETA_FLUIDS)
    with pytest.raises(SpecError, match="not published to everyone") as refused:
        solver.unpublish("solver", "1.0", EVERYONE, actor="provider")
    assert "published to: project:beta/fluids" in str(refused.value)


def test_publish_and_unpublish_are_audited_with_who_when_and_what(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", BETA)
    solver.unpublish("solver", "1.0", BETA, actor="admin", at=T0)
    entries = [e for e in solver.audit("solver")
               if e.action in (AuditAction.PUBLISH, AuditAction.UNPUBLISH)]
    assert [(e.action, e.actor, e.at, e.version, e.detail["target"]) for e in entries] == [
        (AuditAction.PUBLISH, "provider", T0, "1.0", "organisation:beta"),
        (AuditAction.UNPUBLISH, "admin", T0, "1.0", "organisation:beta")]
    assert entries[0].detail["licence_terms"] == "academic use only"


def test_publishing_again_replaces_the_terms_and_the_audit_keeps_the_old_ones(
        solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    publish(solver, "1.0", EVERYONE)
    publish(solver, "1.0", EVERYONE, licence="commercial", price="solver-per-core-hour")
    (publication,) = solver.get("solver", "1.0").publications
    assert (publication.licence_terms, publication.price_offering) == ("commercial", "solver-per-core-hour")
    assert solver.audit("solver")[-1].detail["replaced"] == {
        "licence_terms": "academic use only", "price_offering": "solver-per-run", "licence_seats": None}


def test_publishing_to_several_targets_is_all_or_nothing(solver: ApplicationCatalogue,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    passed_test(solver, "1.0", 1)
    calls = iter(itertools.count())
    real_event = catalogue_module._event

    def fail_on_second_target(*args: object) -> None:
        if next(calls) == 1:
            raise RuntimeError("the database went away")
        real_event(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(catalogue_module, "_event", fail_on_second_target)
    with pytest.raises(RuntimeError):
        publish(solver, "1.0", BETA, EVERYONE)
    monkeypatch.undo()
    assert solver.get("solver", "1.0").publications == ()
    assert not solver.can_run("solver", "1.0", "beta")


@pytest.mark.parametrize(("licence", "price", "message"), [
    ("  ", "solver-per-run", "licence terms are empty"),
    ("terms", "", "not a business model name"),
    ("terms", "x" * 201, "not a business model name"),
    ("terms", "bad\nname", "not a business model name"),
])
def test_publication_terms_must_have_a_shape(solver: ApplicationCatalogue, licence: str, price: str,
                                             message: str) -> None:
    passed_test(solver, "1.0", 1)
    with pytest.raises(SpecError, match=message):
        publish(solver, "1.0", EVERYONE, licence=licence, price=price)


def test_publishing_to_no_target_is_refused(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    with pytest.raises(SpecError, match="no publication target"):
        publish(solver, "1.0")


@pytest.mark.parametrize(("scope", "organisation", "project"), [
    (PublicationScope.EVERYONE, "beta", None), (PublicationScope.ORGANISATION, None, None),
    (PublicationScope.ORGANISATION, "beta", "fluids"), (PublicationScope.PROJECT, "beta", None),
    (PublicationScope.PROJECT, "BETA", "fluids"), (PublicationScope.PROJECT, "beta", "../x"),
])
def test_a_target_names_exactly_what_its_scope_needs(scope: PublicationScope, organisation: str | None,
                                                     project: str | None) -> None:
    with pytest.raises(ValidationError):
        PublicationTarget(scope=scope, organisation=organisation, project=project)


def test_a_listing_shows_a_user_only_what_they_may_run(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2)
    add(solver, "3.0", 3)
    passed_test(solver, "1.0", 1)
    passed_test(solver, "2.0", 2)
    publish(solver, "1.0", BETA_FLUIDS, PublicationTarget.of_project("gamma", "secret"))
    publish(solver, "2.0", PublicationTarget.of_organisation("delta"))
    solver.register("internal", organisation="acme", owner="packager", parameter_schema={})

    (seen,) = solver.list("beta", ["fluids"])
    assert seen.name == "solver"
    assert [v.version for v in seen.versions] == ["1.0"]
    assert [p.target for p in seen.versions[0].publications] == [BETA_FLUIDS]  # not gamma's project
    assert solver.list("beta", ["optics"]) == []

    owner_view = solver.list("acme")
    assert [a.name for a in owner_view] == ["internal", "solver"]
    assert [v.version for v in owner_view[1].versions] == ["1.0", "2.0", "3.0"]
    assert len(owner_view[1].versions[0].publications) == 2


ORGANISATIONS = ("acme", "beta", "gamma")
PROJECTS = ((), ("fluids",), ("optics",), ("fluids", "optics"))


def test_listings_agree_with_can_run_for_every_user(solver: ApplicationCatalogue) -> None:
    add(solver, "2.0", 2)
    add(solver, "3.0", 3)
    add(solver, "4.0", 4)
    for version, image in (("1.0", 1), ("2.0", 2), ("3.0", 3)):
        passed_test(solver, version, image)
    publish(solver, "1.0", BETA_FLUIDS)
    publish(solver, "2.0", BETA)
    publish(solver, "3.0", EVERYONE, PublicationTarget.of_project("gamma", "optics"))
    solver.record_functional_test("solver", "3.0", digest=digest(3), passed=False, flow_run_id="r")
    expected_for_beta_fluids = {"1.0", "2.0"}
    for organisation, projects in itertools.product(ORGANISATIONS, PROJECTS):
        listed = {v.version for v in solver.visible_to(organisation, projects)}
        runnable = {v for v in ("1.0", "2.0", "3.0", "4.0")
                    if any(solver.can_run("solver", v, organisation, p) for p in projects or (None,))}
        assert listed == runnable, (organisation, projects)
        if (organisation, projects) == ("beta", ("fluids",)):
            assert listed == expected_for_beta_fluids


def test_a_publication_limits_its_licence_seats_and_a_republication_changes_them(solver: ApplicationCatalogue) -> None:
    passed_test(solver, "1.0", 1)
    assert solver.get("solver", "1.0").publications == ()
    solver.publish("solver", "1.0", [BETA], licence_terms="site licence", price_offering="solver-per-run",
                   actor="provider", licence_seats=2, at=T0)
    assert solver.get("solver", "1.0").publications[0].licence_seats == 2
    publish(solver, "1.0", BETA)  # no seats given: unlimited again, the audit keeps the old terms
    assert solver.get("solver", "1.0").publications[0].licence_seats is None
    assert solver.audit("solver")[-1].detail["replaced"]["licence_seats"] == 2
    with pytest.raises(SpecError, match="allows no run"):
        solver.publish("solver", "1.0", [BETA], licence_terms="t", price_offering="p", actor="provider",
                       licence_seats=0)
