"""The enrolment and compliance procedures of a centre: which steps run, in which order, and
what counts as passing.

The flows run each step as their own task (so each shows in the UI) by passing the steps in;
the rules live here: the runtime role must change nothing when run a second time, the smoke
job runs only after a clean install, a centre never enrolled is not compliant, and an SSH
failure stops the checks that need the link.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.enrolment.ansible import PlaybookResult
from heroes_core.enrolment.compliance import runtime_checks
from heroes_core.enrolment.enrolments import EnrolmentView
from heroes_core.enrolment.prerequisites import CheckResult, blocking, check_ssh, read_stamp
from heroes_core.errors import HeroesError
from heroes_core.sites import Site, SiteConfig, open_site

RunRole = Callable[[SiteConfig, bool], PlaybookResult]
"""Run the HEROES Runtime role on a centre: ``(config, check_mode) -> result``."""

SmokeJob = Callable[[Site, str], CheckResult]
"""Run a trivial batch job on a centre under a job key: ``(site, key) -> result``."""


class Installation(BaseModel):
    """The runtime role run twice on a centre, and the smoke job if the install was clean."""

    model_config = ConfigDict(frozen=True)

    first: PlaybookResult
    second: PlaybookResult
    steps: list[CheckResult]
    facts: dict[str, Any] = Field(default_factory=dict,
                                  description="What the runtime found on the centre (its stamp's facts).")

    @property
    def failed(self) -> list[CheckResult]:
        return blocking(self.steps)


class ComplianceReport(BaseModel):
    """Every compliance check of one centre and the runtime version found there."""

    model_config = ConfigDict(frozen=True)

    checks: list[CheckResult]
    installed_version: str | None
    facts: dict[str, Any] = Field(default_factory=dict,
                                  description="What the runtime found on the centre (its stamp's facts).")

    @property
    def failed(self) -> list[CheckResult]:
        return blocking(self.checks)

    def failures(self) -> list[dict[str, Any]]:
        """The failed checks as the enrolment record and the compliance event keep them."""
        return [{"name": r.name, "detail": r.detail, "fix": r.fix or ""} for r in self.failed]


def install_checks(first: PlaybookResult, second: PlaybookResult) -> list[CheckResult]:
    """The install succeeded, and the second run changed nothing (a role that keeps changing
    things on a converged centre would also fail every later compliance check)."""
    return [
        CheckResult(name="runtime role", ok=first.ok,
                    detail=f"changed {first.changed} task(s)" if first.ok else "; ".join(first.failures),
                    fix=None if first.ok else "fix what the role reports (see the flow logs)"),
        CheckResult(name="runtime role idempotent", ok=second.ok and second.changed == 0,
                    detail=f"second run changed {second.changed} task(s): {', '.join(second.changed_tasks)}"
                    if second.changed else "second run changed nothing",
                    fix=None if second.changed == 0 else "report this to the HEROES team (role bug)"),
    ]


def install_runtime(config: SiteConfig, *, run_role: RunRole, smoke_job: SmokeJob, smoke_key: str,
                    opener: Callable[[SiteConfig], Site] = open_site) -> Installation:
    """Run the role, run it again, and only on a clean install submit the smoke job."""
    first = run_role(config, False)
    second = run_role(config, False) if first.ok else first
    steps = install_checks(first, second)
    facts: dict[str, Any] = {}
    if not blocking(steps):
        site = opener(config)
        facts = stamp_facts(read_stamp(site.transport, config.work_root))
        steps.append(smoke_job(site, smoke_key))
    return Installation(first=first, second=second, steps=steps, facts=facts)


def enrolment_check(enrolment: EnrolmentView | None) -> CheckResult:
    """A centre is compliant only once it has been enrolled."""
    enrolled = enrolment is not None and enrolment.enrolled
    return CheckResult(
        name="enrolled", ok=enrolled,
        detail=f"enrolled {enrolment.enrolled_at:%Y-%m-%d %H:%M} UTC"
        if enrolment is not None and enrolment.enrolled_at else "the centre has never been enrolled",
        fix=None if enrolled else "run the enroll-hpc-centre workflow")


def check_compliance(config: SiteConfig, enrolment: EnrolmentView | None, expected_version: str, *,
                     run_role: RunRole, smoke_job: SmokeJob, smoke_key: str,
                     opener: Callable[[SiteConfig], Site] = open_site) -> ComplianceReport:
    """Enrolled, reachable, runtime present at the expected version and configured as expected
    (the role in check mode changes nothing), and a smoke job runs.

    Without SSH the runtime checks and the smoke job are not run: the SSH failure says why.
    """
    checks = [enrolment_check(enrolment)]
    try:
        site = opener(config)
        ssh = check_ssh(site)
    except HeroesError as exc:
        ssh = CheckResult(name="ssh", ok=False, detail=exc.detail, fix=exc.fix)
    checks.append(ssh)
    stamp: dict[str, object] | None = None
    if ssh.ok:
        stamp = read_stamp(site.transport, config.work_root)
        checks += runtime_checks(stamp, expected_version, run_role(config, True))
        checks.append(smoke_job(site, smoke_key))
    installed = str(stamp.get("version")) if stamp else None
    return ComplianceReport(checks=checks, installed_version=installed, facts=stamp_facts(stamp))


def stamp_facts(stamp: dict[str, object] | None) -> dict[str, Any]:
    """The facts of a runtime stamp (``runtime.json``), as the enrolment record keeps them."""
    facts = stamp.get("facts") if stamp else None
    return dict(facts) if isinstance(facts, dict) else {}


def fixes(results: Sequence[CheckResult]) -> str:
    """The failed checks in one line, each with its fix, for an error message."""
    return "; ".join(f"{r.name}: {r.detail} (fix: {r.fix or 'see the report'})" for r in results)
