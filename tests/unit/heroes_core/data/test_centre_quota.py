"""Quotas on a centre's job area, measured with du on the centre (here the local machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heroes_core.data import Quota, Quotas, QuotaScope
from heroes_core.data.centre_quota import centre_usage, check_centre_quota
from heroes_core.errors import QuotaExceededError
from heroes_core.models import UserArea
from heroes_core.sites import SiteConfig, open_site
from heroes_core.store import Database

MiB = 1024 * 1024


def test_usage_is_what_the_organisation_and_the_user_keep_under_the_work_root(tmp_path: Path) -> None:
    site = open_site(SiteConfig(name="hpc1", host="h", user="svc", work_root=str(tmp_path), transport="local"))
    assert centre_usage(site, "acme") == 0
    (tmp_path / "acme" / "alice" / "job1").mkdir(parents=True)
    (tmp_path / "acme" / "alice" / "job1" / "out").write_bytes(b"x" * MiB)
    (tmp_path / "acme" / "bob").mkdir()
    (tmp_path / "acme" / "bob" / "out").write_bytes(b"y" * (2 * MiB))
    assert MiB <= centre_usage(site, "acme", "alice") < MiB + 64 * 1024
    assert 3 * MiB <= centre_usage(site, "acme") < 3 * MiB + 64 * 1024

    database = Database(f"sqlite:///{tmp_path / 'heroes.db'}")
    quotas = Quotas(database)
    quotas.set(Quota(organisation="acme", scope=QuotaScope.USER, name="alice", place="hpc1",
                     limit_bytes=2 * MiB), by="pam")
    alice = UserArea(organisation="acme", user="alice")
    check_centre_quota(quotas, site, alice, MiB // 2, what="staging in job2's inputs")
    with pytest.raises(QuotaExceededError, match=r"\[hpc1\] staging in job2's inputs \(1.5 MiB\) would pass "
                                                 r"user acme/alice's quota on centre hpc1: 1.0 MiB of 2.0 MiB"):
        check_centre_quota(quotas, site, alice, 3 * MiB // 2, what="staging in job2's inputs")
    check_centre_quota(quotas, site, UserArea(organisation="acme", user="bob"), 10 * MiB, what="bob's")
    database.dispose()
