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

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.centre_events import report_nodes
from heroes.tasks.resolve import load_archive, load_centre, load_database
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
    heroes_version,
    run_playbook,
    run_smoke_job,
)
from heroes_core.enrolment.procedure import check_compliance, fixes, install_runtime
from heroes_core.jobs import job_key
from heroes_core.sites import Site, SiteConfig

COMPLIANCE_PASSED = "heroes.centre.compliance.passed"
COMPLIANCE_FAILED = "heroes.centre.compliance.failed"


def _rows(results: list[CheckResult]) -> list[dict[str, str]]:
    return [{"check": r.name, "result": "ok" if r.ok else ("FAILED" if r.required else "warning"),
             "detail": r.detail, "fix": r.fix or ""} for r in results]


def _archive_endpoint(archive: str) -> str | None:
    try:
        block = load_archive(archive)
    except (ValueError, RuntimeError):
        get_run_logger().warning("Archive block %s not found: outbound network not checked", archive)
        return None
    return str(block.endpoint_url)


def _enrolments(database: str) -> Enrolments:
    return Enrolments(load_database(database).database())


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
    config = load_centre(centre).site_config()
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
        raise EnrolmentRefused(f"{len(failed)} prerequisite(s) failed: {fixes(failed)}", site=centre,
                               fix="fix the failed prerequisites listed, then enrol again")

    version = heroes_version()
    installed = install_runtime(config, run_role=runtime_role, smoke_job=smoke_job,
                                smoke_key=_smoke_key("enrol-smoke"))
    rows = _rows(results + installed.steps)
    create_table_artifact(key=artifact_key("centre-enrolment-steps", centre), table=rows,
                          description=f"Enrolment of {centre}")
    failed = installed.failed
    if failed:
        create_markdown_artifact(
            key=artifact_key("centre-enrolment", centre),
            markdown=f"# {centre} is not enrolled\n\n"
                     + "\n".join(f"- **{r.name}**: {r.detail}. Fix: {r.fix}" for r in failed))
        raise EnrolmentRefused(f"enrolment failed: {fixes(failed)}", site=centre,
                               fix="fix the failed steps listed, then enrol again")
    view = _enrolments(database).record_enrolment(centre, version, facts=installed.facts)
    create_markdown_artifact(
        key=artifact_key("centre-enrolment", centre),
        markdown=f"# {centre} is enrolled\n\n| | |\n|---|---|\n| runtime version | {version} |\n"
                 f"| enrolled at | {view.enrolled_at:%Y-%m-%d %H:%M:%S} UTC |\n"
                 f"| login node | {config.user}@{config.host}:{config.port} |\n"
                 f"| work root | `{config.work_root}` |\n| smoke job | {installed.steps[-1].detail} |\n")
    logger.info("Centre %s enrolled with HEROES Runtime %s", centre, version)
    return {"centre": centre, "enrolled": True, "runtime_version": version,
            "changed_first_run": installed.first.changed,
            "changed_second_run": installed.second.changed, "checks": rows}


@flow(name="check-hpc-centre-compliance")
def check_hpc_centre_compliance(centre: str, database: str = DEFAULT_DATABASE,
                                expected_version: str | None = None) -> dict[str, Any]:
    """Runtime present, expected version, configured as expected (check mode), smoke job runs."""
    logger = get_run_logger()
    config = load_centre(centre).site_config()
    expected = expected_version or heroes_version()
    enrolments = _enrolments(database)
    report = check_compliance(config, enrolments.get(centre), expected, run_role=runtime_role,
                              smoke_job=smoke_job, smoke_key=_smoke_key("compliance-smoke"))
    failed, installed = report.failed, report.installed_version
    enrolments.record_compliance(centre, not failed, report.failures(), runtime_version=installed,
                                 facts=report.facts or None)
    emit_event(
        event=COMPLIANCE_FAILED if failed else COMPLIANCE_PASSED,
        resource={"prefect.resource.id": f"heroes.centre.{centre}",
                  "prefect.resource.name": centre},
        payload={"failed": report.failures(), "expected_version": expected,
                 "installed_version": installed, "checks": [r.name for r in report.checks]},
    )
    create_table_artifact(key=artifact_key("centre-compliance", centre), table=_rows(report.checks),
                          description=f"Compliance of {centre}: "
                                      f"{'FAILED' if failed else 'passed'}")
    report_nodes(centre)
    if failed:
        raise NotCompliant(f"not compliant: {fixes(failed)}", site=centre,
                           fix="fix the failed checks listed (usually: re-run enroll-hpc-centre)")
    logger.info("Centre %s is compliant (HEROES Runtime %s)", centre, installed)
    return {"centre": centre, "compliant": True, "runtime_version": installed,
            "checks": _rows(report.checks)}
