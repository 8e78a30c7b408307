"""Architecture workflows of module 2: enrol an HPC centre, check that it stays compliant.

``enroll_hpc_centre`` is run by the centre's admins with the HEROES team: it checks the
prerequisites through the centre's own SSH link (all shown at once, each with its fix),
installs the HEROES Runtime with the Ansible role (as the unprivileged service account,
twice: the second run must change nothing), runs a smoke job and records the centre as
enrolled in the project database.

``check_hpc_centre_compliance`` runs on a schedule per centre: the runtime is present, at
the expected version, configured as expected (the role in check mode changes nothing, and
nothing is changed by the check), and a smoke job runs. It emits
``heroes.centre.compliance.passed`` or ``heroes.centre.compliance.failed`` (resource
``heroes.centre.<name>``) so an automation can notify the centre's admins.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run as current_run

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes_core.enrolment import (
    COMPLIANCE_PLAYBOOK,
    RUNTIME_PLAYBOOK,
    CheckResult,
    EnrolmentRefused,
    Enrolments,
    NotCompliant,
    PlaybookResult,
    blocking,
    check_prerequisites,
    check_ssh,
    heroes_version,
    read_stamp,
    run_playbook,
    run_smoke_job,
    runtime_checks,
)
from heroes_core.errors import HeroesError
from heroes_core.jobs import job_key
from heroes_core.sites import Site, SiteConfig, open_site

COMPLIANCE_PASSED = "heroes.centre.compliance.passed"
COMPLIANCE_FAILED = "heroes.centre.compliance.failed"


def _rows(results: list[CheckResult]) -> list[dict[str, str]]:
    return [{"check": r.name, "result": "ok" if r.ok else ("FAILED" if r.required else "warning"),
             "detail": r.detail, "fix": r.fix or ""} for r in results]


def _fixes(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.name}: {r.detail} (fix: {r.fix or 'see the report'})" for r in results)


def _archive_endpoint(archive: str) -> str | None:
    try:
        block: CentralArchive = CentralArchive.load(archive)  # type: ignore[assignment]
    except (ValueError, RuntimeError):
        get_run_logger().warning("Archive block %s not found: outbound network not checked", archive)
        return None
    return str(block.endpoint_url)


def _enrolments(database: str) -> Enrolments:
    block: HeroesDatabase = HeroesDatabase.load(database)  # type: ignore[assignment]
    return Enrolments(block.database())


def _smoke_key(step: str) -> str:
    run_id = current_run.get_id() or datetime.now(UTC).isoformat()
    return job_key(str(run_id), step)


@task(name="check-prerequisites", cache_policy=NO_CACHE)
def prerequisites(config: SiteConfig, archive_endpoint: str | None,
                  min_free_gb: float) -> list[CheckResult]:
    return check_prerequisites(config, archive_endpoint=archive_endpoint, min_free_gb=min_free_gb)


@task(name="run-runtime-role", cache_policy=NO_CACHE)
def runtime_role(config: SiteConfig, check: bool = False) -> PlaybookResult:
    result = run_playbook(config, COMPLIANCE_PLAYBOOK if check else RUNTIME_PLAYBOOK, check=check)
    get_run_logger().info("%s on %s: ok=%s changed=%d failures=%s\n%s", result.playbook, config.name,
                          result.ok, result.changed, result.failures, result.stdout_tail)
    return result


@task(name="smoke-job", cache_policy=NO_CACHE)
def smoke_job(site: Site, key: str) -> CheckResult:
    return run_smoke_job(site, key)


@flow(name="enroll-hpc-centre")
def enroll_hpc_centre(centre: str, archive: str = DEFAULT_ARCHIVE,
                      database: str = DEFAULT_DATABASE, min_free_gb: float = 1.0) -> dict[str, Any]:
    """Check prerequisites, install the HEROES Runtime, run a smoke job, record the enrolment."""
    logger = get_run_logger()
    block: HPCCentre = HPCCentre.load(centre)  # type: ignore[assignment]
    config = block.site_config()
    results = prerequisites(config, _archive_endpoint(archive), min_free_gb)
    create_table_artifact(key=artifact_key("centre-prerequisites", centre), table=_rows(results),
                          description=f"Prerequisites of {centre}")
    failed = blocking(results)
    if failed:
        create_markdown_artifact(
            key=artifact_key("centre-enrolment", centre),
            markdown=f"# {centre} is not enrolled\n\nFix these and run the enrolment again:\n\n"
                     + "\n".join(f"- **{r.name}**: {r.detail}. Fix: {r.fix or 'see the report'}"
                                 for r in failed))
        raise EnrolmentRefused(f"{len(failed)} prerequisite(s) failed: {_fixes(failed)}", site=centre,
                               fix="fix the failed prerequisites listed, then enrol again")

    version = heroes_version()
    install = runtime_role(config)
    again = runtime_role(config) if install.ok else install
    steps = [
        CheckResult(name="runtime role", ok=install.ok,
                    detail=f"changed {install.changed} task(s)" if install.ok
                    else "; ".join(install.failures),
                    fix=None if install.ok else "fix what the role reports (see the flow logs)"),
        CheckResult(name="runtime role idempotent", ok=again.ok and again.changed == 0,
                    detail=f"second run changed {again.changed} task(s): {', '.join(again.changed_tasks)}"
                    if again.changed else "second run changed nothing",
                    fix=None if again.changed == 0 else "report this to the HEROES team (role bug)"),
    ]
    if install.ok and again.ok and again.changed == 0:
        steps.append(smoke_job(open_site(config), _smoke_key("enrol-smoke")))
    rows = _rows(results + steps)
    create_table_artifact(key=artifact_key("centre-enrolment-steps", centre), table=rows,
                          description=f"Enrolment of {centre}")
    failed = blocking(steps)
    if failed:
        create_markdown_artifact(
            key=artifact_key("centre-enrolment", centre),
            markdown=f"# {centre} is not enrolled\n\n"
                     + "\n".join(f"- **{r.name}**: {r.detail}. Fix: {r.fix}" for r in failed))
        raise EnrolmentRefused(f"enrolment failed: {_fixes(failed)}", site=centre,
                               fix="fix the failed steps listed, then enrol again")
    view = _enrolments(database).record_enrolment(centre, version)
    create_markdown_artifact(
        key=artifact_key("centre-enrolment", centre),
        markdown=f"# {centre} is enrolled\n\n| | |\n|---|---|\n| runtime version | {version} |\n"
                 f"| enrolled at | {view.enrolled_at:%Y-%m-%d %H:%M:%S} UTC |\n"
                 f"| login node | {config.user}@{config.host}:{config.port} |\n"
                 f"| work root | `{config.work_root}` |\n| smoke job | {steps[-1].detail} |\n")
    logger.info("Centre %s enrolled with HEROES Runtime %s", centre, version)
    return {"centre": centre, "enrolled": True, "runtime_version": version,
            "changed_first_run": install.changed, "changed_second_run": again.changed,
            "checks": rows}


@flow(name="check-hpc-centre-compliance")
def check_hpc_centre_compliance(centre: str, database: str = DEFAULT_DATABASE,
                                expected_version: str | None = None) -> dict[str, Any]:
    """Runtime present, expected version, configured as expected (check mode), smoke job runs."""
    logger = get_run_logger()
    block: HPCCentre = HPCCentre.load(centre)  # type: ignore[assignment]
    config = block.site_config()
    expected = expected_version or heroes_version()
    enrolments = _enrolments(database)
    enrolment = enrolments.get(centre)
    checks = [CheckResult(
        name="enrolled", ok=bool(enrolment and enrolment.enrolled),
        detail=f"enrolled {enrolment.enrolled_at:%Y-%m-%d %H:%M} UTC"
        if enrolment and enrolment.enrolled_at else "the centre has never been enrolled",
        fix=None if enrolment and enrolment.enrolled else "run the enroll-hpc-centre workflow")]
    stamp: dict[str, object] | None = None
    try:
        site = open_site(config)
        ssh = check_ssh(site)
    except HeroesError as exc:
        ssh = CheckResult(name="ssh", ok=False, detail=exc.detail, fix=exc.fix)
    checks.append(ssh)
    if ssh.ok:
        stamp = read_stamp(site.transport, config.work_root)
        checks += runtime_checks(stamp, expected, runtime_role(config, check=True))
        checks.append(smoke_job(site, _smoke_key("compliance-smoke")))
    failed = blocking(checks)
    failures = [{"name": r.name, "detail": r.detail, "fix": r.fix or ""} for r in failed]
    installed = str(stamp.get("version")) if stamp else None
    enrolments.record_compliance(centre, not failed, failures, runtime_version=installed)
    emit_event(
        event=COMPLIANCE_FAILED if failed else COMPLIANCE_PASSED,
        resource={"prefect.resource.id": f"heroes.centre.{centre}",
                  "prefect.resource.name": centre},
        payload={"failed": failures, "expected_version": expected, "installed_version": installed,
                 "checks": [r.name for r in checks]},
    )
    create_table_artifact(key=artifact_key("centre-compliance", centre), table=_rows(checks),
                          description=f"Compliance of {centre}: "
                                      f"{'FAILED' if failed else 'passed'}")
    if failed:
        raise NotCompliant(f"not compliant: {_fixes(failed)}", site=centre,
                           fix="fix the failed checks listed (usually: re-run enroll-hpc-centre)")
    logger.info("Centre %s is compliant (HEROES Runtime %s)", centre, installed)
    return {"centre": centre, "compliant": True, "runtime_version": installed, "checks": _rows(checks)}
