"""Users' archive paths: which area each names, and who may reach it, by the actions table."""

from __future__ import annotations

import pytest

from heroes_core.data import Area, AreaKind, parse_path, require_access
from heroes_core.errors import PathEscapeError, PermissionDeniedError
from heroes_core.identity import Identity, Role

ALICE = Identity(subject="s-1", user="alice", organisation="acme", projects=frozenset({"cfd"}),
                 roles=frozenset({Role.ENGINEER}))
PAM = Identity(subject="s-2", user="pam", organisation="acme", projects=frozenset(),
               roles=frozenset({Role.PROJECT_ADMIN}))
BILL = Identity(subject="s-3", user="bill", organisation="acme", roles=frozenset({Role.BILLING_ADMIN}))


def test_home_paths_name_the_callers_own_home_and_nobody_elses() -> None:
    path = parse_path("home/inputs/a.csv", ALICE)
    assert path.area == Area.home("acme", "alice") and path.key == "alice/inputs/a.csv"
    assert str(path) == "home/inputs/a.csv" and not path.is_folder
    assert parse_path("home", ALICE).is_folder and parse_path("home/", ALICE).key == "alice/"


def test_project_paths_name_the_projects_shared_area_of_the_callers_organisation() -> None:
    path = parse_path("projects/cfd/mesh/", ALICE)
    assert path.area.kind is AreaKind.PROJECT and path.area.organisation == "acme"
    assert path.key == "projects/cfd/mesh/" and path.is_folder


@pytest.mark.parametrize("text", ["alice/x", "_heroes/ledger.csv", "home/../_heroes/x", "home/a/../../b",
                                  "projects/", "projects/../x", "projects/c d/x", "shared/x", "",
                                  "home/a\nb"])
def test_paths_outside_every_area_are_refused_where_they_enter(text: str) -> None:
    with pytest.raises(PathEscapeError):
        parse_path(text, ALICE)


def test_a_user_reaches_their_home_and_their_projects_areas_only() -> None:
    require_access(ALICE, Area.home("acme", "alice"))
    require_access(ALICE, Area.project("acme", "cfd"))
    for foreign in (Area.project("acme", "other"), Area.home("acme", "bob"), Area.home("globex", "alice"),
                    Area.project("globex", "cfd")):
        with pytest.raises(PermissionDeniedError):
            require_access(ALICE, foreign)


def test_project_admins_reach_every_project_area_of_their_organisation_but_no_home() -> None:
    require_access(PAM, Area.project("acme", "any-project"))
    with pytest.raises(PermissionDeniedError):
        require_access(PAM, Area.home("acme", "pam"))
    with pytest.raises(PermissionDeniedError):
        require_access(PAM, Area.project("globex", "any-project"))


def test_roles_without_data_access_reach_no_area() -> None:
    for area in (Area.home("acme", "bill"), Area.project("acme", "cfd")):
        with pytest.raises(PermissionDeniedError, match="billing-admin"):
            require_access(BILL, area)
