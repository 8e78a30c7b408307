"""Quotas on a centre's job area: what an organisation and its users keep under the work root.

Jobs run in ``<work_root>/<organisation>/<user>/<job key>``, so the organisation's and each
user's usage on a centre are the sizes of those two directories, measured with ``du`` on the
login node at the moment of the check. Projects have no directory of their own on a centre;
their quotas apply to the archive only.
"""

from __future__ import annotations

from heroes_core.data.quotas import Holder, Quota, Quotas, QuotaScope
from heroes_core.errors import TransportError
from heroes_core.models import UserArea
from heroes_core.sites import Site
from heroes_core.transport import shell_join


def centre_usage(site: Site, organisation: str, user: str | None = None) -> int:
    """Bytes under the organisation's (or one of its users') directory on the centre; 0 if none yet."""
    directory = f"{site.config.work_root.rstrip('/')}/{organisation}" + (f"/{user}" if user else "")
    script = f"if [ -d {shell_join([directory])} ]; then du -sb -- {shell_join([directory])}; else echo 0; fi"
    result = site.transport.run(["sh", "-c", script])
    try:
        return int(result.stdout.split()[0]) if result.ok else _refused(site, directory, result.describe())
    except (IndexError, ValueError):
        return _refused(site, directory, f"unreadable answer {result.stdout[:100]!r}")


def _refused(site: Site, directory: str, why: str) -> int:
    raise TransportError(f"cannot measure {directory}: {why}", site=site.name,
                         fix="check that the work root exists and belongs to the service account")


def check_centre_quota(quotas: Quotas, site: Site, area: UserArea, adding: int, *, what: str) -> None:
    """Refuse ``what`` (``adding`` bytes into the user's job area) past the user's or organisation's quota."""
    def used(quota: Quota) -> int:
        return centre_usage(site, area.organisation, area.user if quota.scope is QuotaScope.USER else None)

    quotas.check(Holder(organisation=area.organisation, user=area.user), site.name, adding, used, what=what)
