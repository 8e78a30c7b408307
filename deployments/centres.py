"""Deployments of the centre workflows: on-demand enrolment, hourly compliance per centre."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment

from heroes.flows.architecture.centres import check_hpc_centre_compliance, enroll_hpc_centre

COMPLIANCE_CRON = "0 * * * *"


def centre_deployments(centres: list[str], cron: str = COMPLIANCE_CRON) -> list[RunnerDeployment]:
    """``enroll-hpc-centre`` plus one scheduled ``check-compliance-<centre>`` per centre."""
    deployments = [
        RunnerDeployment.from_flow(
            enroll_hpc_centre, name="enroll-hpc-centre", tags=["heroes", "deployment"],
            description="Enrol an HPC centre: prerequisites, HEROES Runtime (Ansible, as the service "
                        "account), smoke job, enrolment record."),
    ]
    for centre in centres:
        deployments.append(RunnerDeployment.from_flow(
            check_hpc_centre_compliance, name=f"check-compliance-{centre}", cron=cron,
            parameters={"centre": centre},
            tags=["heroes", "deployment", "compliance"],
            description=f"Check that the HEROES Runtime on {centre} is present, at the expected "
                        "version, configured as expected, and that a smoke job runs; emits "
                        "heroes.centre.compliance.passed/failed."))
    return deployments


__all__ = ["COMPLIANCE_CRON", "centre_deployments"]
