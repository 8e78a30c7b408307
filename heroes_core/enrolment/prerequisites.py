"""Prerequisite checks before a centre is enrolled, run through the site's transport.

Each check returns a :class:`CheckResult` (never raises for what it checks): the
enrolment workflow shows them all at once, so a centre admin sees every problem
and its fix in one go. Checks with ``required=False`` are reported but do not
block enrolment (e.g. the login node's outbound network policy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from heroes_core.errors import HeroesError
from heroes_core.sites import Site, SiteConfig, open_site
from heroes_core.transport import Transport

RUNTIME_BINARIES = {"apptainer": "apptainer", "singularity": "singularity", "charliecloud": "ch-run"}

_MISSING_COMMANDS = r"""
for c in "$@"; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done
"""

_DF_NEAREST = r"""
p="$1"
while [ ! -e "$p" ] && [ "$p" != "/" ]; do p=$(dirname -- "$p"); done
df -Pk -- "$p"
"""

_REACH = r"""
command -v curl >/dev/null 2>&1 || exit 127
curl -sS -m "$2" -o /dev/null -- "$1"
"""


class CheckResult(BaseModel):
    """One prerequisite or compliance check: what, whether it passed, what was seen, the fix."""

    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True

    @property
    def blocking(self) -> bool:
        return self.required and not self.ok


def _from_error(name: str, exc: HeroesError) -> CheckResult:
    return CheckResult(name=name, ok=False, detail=exc.detail, fix=exc.fix)


def check_ssh(site: Site) -> CheckResult:
    """The login node answers as the service account, with the pinned host key."""
    try:
        result = site.transport.run(["id", "-un"])
    except HeroesError as exc:
        return _from_error("ssh", exc)
    if not result.ok:
        return CheckResult(name="ssh", ok=False, detail=result.describe(),
                           fix="check the service account's login shell on the login node")
    return CheckResult(name="ssh", ok=True,
                       detail=f"logged in as {result.stdout.strip()} on "
                              f"{site.config.host}:{site.config.port}")


def check_scheduler_commands(site: Site) -> CheckResult:
    """The scheduler's commands (e.g. sbatch, squeue, ...) are on the service account's PATH."""
    commands = site.scheduler.commands
    if not commands:
        return CheckResult(name="scheduler commands", ok=True,
                           detail=f"scheduler '{site.scheduler.name}' needs no batch commands")
    try:
        result = site.transport.run(["sh", "-c", _MISSING_COMMANDS, "sh", *commands])
    except HeroesError as exc:
        return _from_error("scheduler commands", exc)
    missing = result.stdout.split()
    if not result.ok or missing:
        what = ", ".join(missing) or result.describe()
        return CheckResult(name="scheduler commands", ok=False,
                           detail=f"not on the service account's PATH: {what}",
                           fix=f"install the {site.scheduler.name} client commands on the login "
                               "node, or add their directory to the service account's PATH")
    return CheckResult(name="scheduler commands", ok=True, detail=", ".join(commands))


def check_partitions(site: Site) -> CheckResult:
    """The scheduler lists partitions and every partition configured for HEROES exists."""
    try:
        available = site.scheduler.partitions()
    except HeroesError as exc:
        return _from_error("partitions", exc)
    if not available:
        return CheckResult(name="partitions", ok=False, detail="the scheduler lists no partitions",
                           fix="ask the centre's admins which partitions the service account may use")
    unknown = [p for p in site.config.partitions if p not in available]
    default = site.config.default_partition
    if default and default not in available:
        unknown.append(default)
    if unknown:
        return CheckResult(name="partitions", ok=False,
                           detail=f"configured partition(s) {', '.join(unknown)} do not exist "
                                  f"(the centre offers {', '.join(available)})",
                           fix=f"remove {', '.join(unknown)} from the centre block's partitions "
                               f"or choose from: {', '.join(available)}")
    configured = ", ".join(site.config.partitions) or "any"
    return CheckResult(name="partitions", ok=True,
                       detail=f"offered: {', '.join(available)}; configured: {configured}")


def check_container_runtime(site: Site) -> CheckResult:
    """The block's container runtime answers ``--version`` on the login node."""
    name = site.config.container_runtime
    binary = RUNTIME_BINARIES[name]
    try:
        result = site.transport.run([binary, "--version"])
    except HeroesError as exc:
        return _from_error("container runtime", exc)
    if not result.ok:
        return CheckResult(name="container runtime", ok=False,
                           detail=f"{binary} --version failed: {result.describe()}",
                           fix=f"install {name} on the login and compute nodes, or choose the runtime "
                               "the centre has in the block's container_runtime")
    version = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return CheckResult(name="container runtime", ok=True,
                       detail=f"{name}: {version[0] if version else '(no version printed)'}")


def check_disk(site: Site, min_free_gb: float) -> CheckResult:
    """At least ``min_free_gb`` GB free on the file system holding the work root."""
    root = site.config.work_root
    try:
        result = site.transport.run(["sh", "-c", _DF_NEAREST, "sh", root])
    except HeroesError as exc:
        return _from_error("disk space", exc)
    lines = result.stdout.strip().splitlines()
    fields = lines[-1].split() if lines else []
    if not result.ok or len(fields) < 6 or not fields[3].isdigit():
        return CheckResult(name="disk space", ok=False,
                           detail=f"cannot read free space of {root}: {result.describe()}",
                           fix="check that the work root's file system is mounted on the login node")
    free_gb = int(fields[3]) / 1024 ** 2
    detail = f"{free_gb:.1f} GB free on {fields[5]} (needs {min_free_gb:g} GB)"
    if free_gb < min_free_gb:
        return CheckResult(name="disk space", ok=False, detail=detail,
                           fix=f"free space on {fields[5]} or point work_root at a larger file system")
    return CheckResult(name="disk space", ok=True, detail=detail)


def check_outbound_network(site: Site, endpoint: str | None, timeout_s: int = 5) -> CheckResult:
    """Report whether the login node reaches the archive endpoint (informational: not required,
    since HEROES moves data itself over SFTP)."""
    name = "outbound network"
    if not endpoint:
        return CheckResult(name=name, ok=True, detail="no archive endpoint given: not checked",
                           required=False)
    try:
        result = site.transport.run(["sh", "-c", _REACH, "sh", endpoint, str(timeout_s)])
    except HeroesError as exc:
        return CheckResult(name=name, ok=False, detail=exc.detail, fix=exc.fix, required=False)
    if result.exit_code == 127:
        return CheckResult(name=name, ok=True, required=False,
                           detail=f"curl is not installed on the login node: reachability of "
                                  f"{endpoint} not checked")
    if not result.ok:
        return CheckResult(name=name, ok=False, required=False,
                           detail=f"the login node cannot reach {endpoint}: {result.describe()}",
                           fix="nothing required (HEROES stages data over SSH); open outbound "
                               "access if jobs should reach the archive directly")
    return CheckResult(name=name, ok=True, required=False, detail=f"the login node reaches {endpoint}")


def check_prerequisites(site: Site | SiteConfig, *, archive_endpoint: str | None = None,
                        min_free_gb: float = 1.0,
                        opener: Callable[[SiteConfig], Site] = open_site) -> list[CheckResult]:
    """Every prerequisite, in order; if SSH fails the others are reported as not run."""
    if isinstance(site, SiteConfig):
        try:
            site = opener(site)
        except HeroesError as exc:
            return [_from_error("ssh", exc)]
    ssh = check_ssh(site)
    names = ["scheduler commands", "partitions", "container runtime", "disk space", "outbound network"]
    if not ssh.ok:
        return [ssh, *(CheckResult(name=n, ok=False, detail="not run: no SSH connection",
                                   required=n != "outbound network") for n in names)]
    return [ssh, check_scheduler_commands(site), check_partitions(site), check_container_runtime(site),
            check_disk(site, min_free_gb), check_outbound_network(site, archive_endpoint)]


def blocking(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The failed checks that stop an enrolment (or make a centre non-compliant)."""
    return [r for r in results if r.blocking]


def read_stamp(transport: Transport, work_root: str) -> dict[str, object] | None:
    """The runtime's version stamp (``<work_root>/.heroes/runtime.json``), None if absent/unreadable."""
    import json

    result = transport.run(["cat", f"{work_root.rstrip('/')}/.heroes/runtime.json"])
    if not result.ok:
        return None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
