"""The centre_enrolments table: enrol, then record compliance (tests/unit/heroes_core/store checks
the migrations against every module's tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from heroes_core.enrolment import Enrolments
from heroes_core.errors import SpecError
from heroes_core.store import Database


def test_enrolment_and_compliance_rows_round_trip(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = Enrolments(database)
    assert store.get("hpc1") is None
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    view = store.record_enrolment("hpc1", "0.1.0", at=at)
    assert view.enrolled and view.enrolled_at == at and view.last_compliance_ok
    failed = store.record_compliance("hpc1", False, [{"name": "configuration", "detail": "x", "fix": "y"}])
    assert failed.enrolled_at == at and failed.last_compliance_ok is False
    assert failed.last_compliance_failures[0]["name"] == "configuration"
    store.record_compliance("hpc2", False, [])
    assert [v.centre for v in store.all()] == ["hpc1", "hpc2"]
    assert not store.get("hpc2").enrolled  # type: ignore[union-attr]
    assert store.record_enrolment("hpc1", "0.2.0").last_compliance_failures == []
    database.dispose()


def test_centres_that_failed_their_last_compliance_check_are_reported_as_failing(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = Enrolments(database)
    store.record_enrolment("good", "0.1.0")
    store.record_enrolment("broken", "0.1.0")
    store.record_compliance("broken", False, [{"name": "configuration"}])
    store.record_compliance("good", True, [])
    assert store.failing(["good", "broken", "never-enrolled"]) == ["broken"]
    store.record_compliance("broken", True, [])
    assert store.failing(["good", "broken"]) == []
    database.dispose()


def test_jobs_are_placed_only_on_centres_whose_last_check_did_not_fail(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = Enrolments(database)
    store.record_enrolment("good", "0.1.0")
    store.record_compliance("broken", False, [{"name": "configuration"}])
    assert store.placeable(["broken", "good", "never-enrolled"]) == ["good", "never-enrolled"]
    with pytest.raises(SpecError, match="every candidate centre failed its last compliance check: broken"):
        store.placeable(["broken"])
    database.dispose()


def test_what_the_runtime_found_is_kept_and_ear_read_from_it(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = Enrolments(database)
    without = store.record_enrolment("hpc1", "0.1.0", facts={"ear_found": "False", "scheduler": "slurm"})
    assert without.facts["scheduler"] == "slurm" and not without.has_ear
    assert store.record_compliance("hpc1", True, [], facts={"ear_found": "True", "ear": "eacct"}).has_ear
    assert store.record_compliance("hpc1", True, []).has_ear  # a check that read no stamp keeps the facts
    assert not store.record_compliance("hpc2", False, []).has_ear
    database.dispose()
