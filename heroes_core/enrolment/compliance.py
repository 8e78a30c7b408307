"""Compliance of an enrolled centre: runtime present, expected version, configured as expected,
and a trivial batch job runs."""

from __future__ import annotations

from collections.abc import Mapping

from heroes_core.enrolment.ansible import PlaybookResult
from heroes_core.enrolment.prerequisites import CheckResult
from heroes_core.errors import HeroesError
from heroes_core.jobs import submit_once, wait_for
from heroes_core.models import JobState
from heroes_core.schedulers import JobSubmission
from heroes_core.sites import Site

SMOKE_SCRIPT = "#!/bin/sh\necho ok\n"


def smoke_directory(site: Site) -> str:
    return f"{site.config.work_root.rstrip('/')}/.heroes/smoke"


def run_smoke_job(site: Site, key: str, *, time_limit_minutes: int = 2) -> CheckResult:
    """Submit ``echo ok`` through the centre's scheduler, wait for it, read its output."""
    job_dir = smoke_directory(site)
    partition = site.config.default_partition or (site.config.partitions[0]
                                                 if site.config.partitions else None)
    try:
        made = site.transport.run(["mkdir", "-p", "-m", "700", job_dir])
        if not made.ok:
            return CheckResult(name="smoke job", ok=False,
                               detail=f"cannot create {job_dir}: {made.describe()}",
                               fix="run the HEROES Runtime role (enrol the centre again)")
        submitted = submit_once(site, JobSubmission(key=key, job_dir=job_dir, script=SMOKE_SCRIPT,
                                                    partition=partition,
                                                    time_limit_minutes=time_limit_minutes))
        status = wait_for(site, submitted.job_id, interval=0.5, max_interval=2.0)
        output = site.scheduler.output_path(job_dir, submitted.job_id)
        printed = site.transport.run(["cat", output])
        site.transport.run(["rm", "-f", output])
    except HeroesError as exc:
        return CheckResult(name="smoke job", ok=False, detail=exc.detail,
                           fix=exc.fix or "check the scheduler on the centre")
    where = f"job {submitted.job_id}" + (f" on partition {partition}" if partition else "")
    if status.state is not JobState.COMPLETED or printed.stdout.strip() != "ok":
        return CheckResult(name="smoke job", ok=False,
                           detail=f"{where} ended {status.state.value} ({status.reason or 'no reason'}), "
                                  f"printed {printed.stdout.strip()[:200]!r}",
                           fix="check that the service account may submit to this partition "
                               "(sacctmgr associations) and that the compute nodes are up")
    return CheckResult(name="smoke job", ok=True, detail=f"{where} completed and printed 'ok'")


def runtime_checks(stamp: Mapping[str, object] | None, expected_version: str,
                   playbook: PlaybookResult) -> list[CheckResult]:
    """Present, expected version, configured as expected (the role in check mode changes nothing)."""
    fix_role = "re-run the HEROES Runtime role (the enroll-hpc-centre workflow) on this centre"
    results = [
        CheckResult(name="runtime present", ok=stamp is not None,
                    detail=".heroes/runtime.json found" if stamp is not None
                    else "<work_root>/.heroes/runtime.json is missing or unreadable",
                    fix=None if stamp is not None else fix_role),
    ]
    version = str(stamp.get("version")) if stamp is not None else None
    results.append(CheckResult(
        name="runtime version", ok=version == expected_version,
        detail=f"installed {version or '(none)'}, expected {expected_version}",
        fix=None if version == expected_version else fix_role))
    if not playbook.ok:
        results.append(CheckResult(name="configuration", ok=False,
                                   detail="; ".join(playbook.failures)[:1000],
                                   fix="fix what the role reports, then re-run the role"))
    elif playbook.changed:
        results.append(CheckResult(
            name="configuration", ok=False,
            detail=f"check mode would change {playbook.changed} task(s): {', '.join(playbook.changed_tasks)}",
            fix=fix_role))
    else:
        results.append(CheckResult(name="configuration", ok=True,
                                   detail="the runtime role in check mode changes nothing"))
    return results
