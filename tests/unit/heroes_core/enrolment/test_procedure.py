"""The enrolment and compliance procedures with stand-in steps: which steps run, and what passes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from heroes_core.enrolment import CheckResult, EnrolmentView, PlaybookResult
from heroes_core.enrolment.procedure import (
    check_compliance,
    enrolment_check,
    fixes,
    install_checks,
    install_runtime,
)
from heroes_core.errors import UnreachableError
from heroes_core.sites import Site, SiteConfig, open_site
from tests.unit.heroes_core.fakes import ScriptedTransport

CONFIG = SiteConfig(name="hpc1", host="login.example", user="svc", work_root="/scratch/heroes",
                    transport="local", container_runtime="charliecloud")
SMOKE_OK = CheckResult(name="smoke job", ok=True, detail="job 1 completed and printed 'ok'")


def role(changed: int = 0, ok: bool = True, check: bool = False) -> PlaybookResult:
    return PlaybookResult(playbook="compliance.yml" if check else "runtime.yml", check=check, ok=ok,
                          status="successful" if ok else "failed", rc=0 if ok else 2, changed=changed,
                          failures=[] if ok else ["task X: permission denied"],
                          changed_tasks=[f"task {i}" for i in range(changed)])


class Steps:
    """Stand-ins for the role and the smoke job that record how they were called."""

    def __init__(self, *roles: PlaybookResult, smoke: CheckResult = SMOKE_OK) -> None:
        self.roles = list(roles)
        self.smoke = smoke
        self.calls: list[str] = []

    def run_role(self, config: SiteConfig, check: bool) -> PlaybookResult:
        self.calls.append(f"role check={check}")
        return self.roles.pop(0)

    def smoke_job(self, site: Site, key: str) -> CheckResult:
        self.calls.append(f"smoke {key}")
        return self.smoke


def opener(transport: ScriptedTransport):  # type: ignore[no-untyped-def]
    def open_with(config: SiteConfig) -> Site:
        built = open_site(config)
        built.transport = transport
        built.scheduler.transport = transport
        return built
    return open_with


def test_a_clean_install_runs_the_role_twice_then_the_smoke_job() -> None:
    steps = Steps(role(changed=5), role(changed=0))
    stamp = '{"version": "0.1.0", "facts": {"ear_found": "False"}}'
    installed = install_runtime(CONFIG, run_role=steps.run_role, smoke_job=steps.smoke_job,
                                smoke_key="k1", opener=opener(ScriptedTransport({"cat": stamp})))
    assert steps.calls == ["role check=False", "role check=False", "smoke k1"]
    assert installed.facts == {"ear_found": "False"}
    assert installed.failed == [] and installed.steps[-1] == SMOKE_OK
    assert (installed.first.changed, installed.second.changed) == (5, 0)


def test_a_role_that_changes_things_again_is_a_bug_and_no_smoke_job_runs() -> None:
    steps = Steps(role(changed=5), role(changed=2))
    installed = install_runtime(CONFIG, run_role=steps.run_role, smoke_job=steps.smoke_job,
                                smoke_key="k1", opener=opener(ScriptedTransport({})))
    assert steps.calls == ["role check=False", "role check=False"]
    (failed,) = installed.failed
    assert failed.name == "runtime role idempotent" and "task 0, task 1" in failed.detail
    assert failed.fix == "report this to the HEROES team (role bug)"


def test_a_failed_install_is_not_run_again() -> None:
    steps = Steps(role(ok=False))
    installed = install_runtime(CONFIG, run_role=steps.run_role, smoke_job=steps.smoke_job,
                                smoke_key="k1", opener=opener(ScriptedTransport({})))
    assert steps.calls == ["role check=False"]
    assert [r.name for r in installed.failed] == ["runtime role", "runtime role idempotent"]
    assert "permission denied" in installed.failed[0].detail


def test_install_checks_pass_only_when_the_second_run_changes_nothing() -> None:
    assert all(r.ok for r in install_checks(role(changed=3), role(changed=0)))
    assert not install_checks(role(changed=3), role(changed=1))[1].ok


def test_a_centre_never_enrolled_is_not_compliant() -> None:
    never = enrolment_check(None)
    assert not never.ok and never.fix == "run the enroll-hpc-centre workflow"
    view = EnrolmentView(centre="hpc1", enrolled_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
                         runtime_version="0.1.0", last_compliance_ok=True, last_compliance_at=None,
                         last_compliance_failures=[])
    assert enrolment_check(view).ok and enrolment_check(view).detail == "enrolled 2025-03-01 12:30 UTC"


def enrolled() -> EnrolmentView:
    return EnrolmentView(centre="hpc1", enrolled_at=datetime(2025, 3, 1, tzinfo=UTC),
                         runtime_version="0.1.0", last_compliance_ok=True, last_compliance_at=None,
                         last_compliance_failures=[])


def test_a_compliant_centre_passes_every_check_and_reports_its_version() -> None:
    transport = ScriptedTransport({"id": "svc\n",
                                   "cat": '{"version": "0.1.0", "facts": {"ear_found": "True", "ear": "eacct"}}'})
    steps = Steps(role(check=True))
    report = check_compliance(CONFIG, enrolled(), "0.1.0", run_role=steps.run_role,
                              smoke_job=steps.smoke_job, smoke_key="k2", opener=opener(transport))
    assert report.facts == {"ear_found": "True", "ear": "eacct"}  # what the runtime found, EAR among it
    assert [c.name for c in report.checks] == ["enrolled", "ssh", "runtime present", "runtime version",
                                               "configuration", "smoke job"]
    assert report.failed == [] and report.failures() == []
    assert report.installed_version == "0.1.0"
    assert steps.calls == ["role check=True", "smoke k2"]


def test_without_ssh_nothing_else_runs_and_the_failure_says_why() -> None:
    def unreachable(config: SiteConfig) -> Site:
        raise UnreachableError("no route to login.example", site="hpc1", fix="check the network")

    steps = Steps()
    report = check_compliance(CONFIG, None, "0.1.0", run_role=steps.run_role,
                              smoke_job=steps.smoke_job, smoke_key="k2", opener=unreachable)
    assert steps.calls == []
    assert report.installed_version is None
    assert report.failures() == [
        {"name": "enrolled", "detail": "the centre has never been enrolled",
         "fix": "run the enroll-hpc-centre workflow"},
        {"name": "ssh", "detail": "no route to login.example", "fix": "check the network"}]


def test_a_drifted_runtime_fails_with_the_role_as_the_fix() -> None:
    transport = ScriptedTransport({"id": "svc\n", "cat": '{"version": "0.0.9"}'})
    steps = Steps(role(check=True, changed=1))
    report = check_compliance(CONFIG, enrolled(), "0.1.0", run_role=steps.run_role,
                              smoke_job=steps.smoke_job, smoke_key="k2", opener=opener(transport))
    assert [r.name for r in report.failed] == ["runtime version", "configuration"]
    assert report.installed_version == "0.0.9"


@pytest.mark.parametrize(("fix", "shown"), [("do this", "do this"), (None, "see the report")])
def test_fixes_name_each_failed_check_with_its_fix(fix: str | None, shown: str) -> None:
    failed = CheckResult(name="disk space", ok=False, detail="0.5 GB free", fix=fix)
    one = f"disk space: 0.5 GB free (fix: {shown})"
    assert fixes([failed, failed]) == f"{one}; {one}"
