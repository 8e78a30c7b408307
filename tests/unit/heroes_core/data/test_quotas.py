"""Quotas in the project database: every covering quota is checked, refusals give the numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from heroes_core.data import Holder, Quota, Quotas, QuotaScope
from heroes_core.data.quotas import size_text
from heroes_core.errors import QuotaExceededError
from heroes_core.store import Database

MiB = 1024 * 1024


@pytest.fixture
def quotas(tmp_path: Path) -> Iterator[Quotas]:
    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    yield Quotas(database)
    database.dispose()


def test_no_quota_means_no_limit(quotas: Quotas) -> None:
    quotas.check(Holder(organisation="acme", user="alice"), "archive", 10**15, lambda q: 0, what="x")


def test_a_write_counts_against_its_users_and_its_organisations_quota(quotas: Quotas) -> None:
    quotas.set(Quota(organisation="acme", scope=QuotaScope.ORGANISATION, limit_bytes=10 * MiB), by="pam")
    quotas.set(Quota(organisation="acme", scope=QuotaScope.USER, name="alice", limit_bytes=3 * MiB), by="pam")
    used = {QuotaScope.ORGANISATION: 9 * MiB, QuotaScope.USER: 1 * MiB}
    alice = Holder(organisation="acme", user="alice")
    quotas.check(alice, "archive", MiB // 2, lambda q: used[q.scope], what="uploading home/a")
    with pytest.raises(QuotaExceededError) as refused:
        quotas.check(alice, "archive", 2 * MiB, lambda q: used[q.scope], what="uploading home/b")
    assert str(refused.value) == ("[archive] uploading home/b (2.0 MiB) would pass organisation acme's quota on "
                                  "the archive: 9.0 MiB of 10.0 MiB used, 1.0 MiB free Fix: delete files you "
                                  "no longer need, or ask a project admin for a larger quota")
    assert refused.value.http_status == 413


def test_quotas_are_per_place_and_per_organisation(quotas: Quotas) -> None:
    quotas.set(Quota(organisation="acme", scope=QuotaScope.PROJECT, name="cfd", place="hpc1", limit_bytes=MiB),
               by="pam")
    assert quotas.covering(Holder(organisation="acme", project="cfd"), "archive") == []
    assert quotas.covering(Holder(organisation="globex", project="cfd"), "hpc1") == []
    assert [q.limit_bytes for q in quotas.covering(Holder(organisation="acme", project="cfd"), "hpc1")] == [MiB]


def test_setting_a_quota_again_changes_it_and_removing_it_lifts_it(quotas: Quotas) -> None:
    quota = Quota(organisation="acme", scope=QuotaScope.USER, name="alice", limit_bytes=MiB)
    quotas.set(quota, by="pam")
    quotas.set(quota.model_copy(update={"limit_bytes": 2 * MiB}), by="pam")
    assert [q.limit_bytes for q in quotas.of_organisation("acme")] == [2 * MiB]
    assert quotas.remove("acme", QuotaScope.USER, "alice", "archive")
    assert not quotas.remove("acme", QuotaScope.USER, "alice", "archive")
    assert quotas.of_organisation("acme") == []


def test_malformed_quotas_are_refused(quotas: Quotas) -> None:
    with pytest.raises(ValidationError, match="needs a name"):
        Quota(organisation="acme", scope=QuotaScope.USER, limit_bytes=1)
    with pytest.raises(ValidationError, match="takes no name"):
        Quota(organisation="acme", scope=QuotaScope.ORGANISATION, name="x", limit_bytes=1)
    for bad in ({"place": "../etc"}, {"limit_bytes": -1}, {"name": "a b"}):
        with pytest.raises(ValidationError):
            Quota.model_validate({"organisation": "acme", "scope": "user", "name": "alice", "limit_bytes": 1,
                                  **bad})


def test_sizes_read_as_people_write_them() -> None:
    assert [size_text(n) for n in (12, 2048, 3 * MiB // 2, 5 * 1024**3)] == ["12 B", "2.0 KiB", "1.5 MiB",
                                                                            "5.0 GiB"]
