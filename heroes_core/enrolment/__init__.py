"""Deployment & integration (architecture module 2): HEROES Runtime on a centre, enrolment,
compliance.

The runtime is installed by an Ansible role (``ansible/roles/heroes_runtime``) run as the
centre's unprivileged service account; :func:`run_playbook` drives it with ansible-runner.
"""

from heroes_core.enrolment.ansible import (
    COMPLIANCE_PLAYBOOK,
    RUNTIME_PLAYBOOK,
    DeploymentError,
    EnrolmentRefused,
    NotCompliant,
    PlaybookResult,
    ansible_dir,
    heroes_version,
    inventory_for,
    run_playbook,
    runtime_extravars,
    summarise,
)
from heroes_core.enrolment.compliance import run_smoke_job, runtime_checks, smoke_directory
from heroes_core.enrolment.enrolments import CentreEnrolment, Enrolments, EnrolmentView
from heroes_core.enrolment.prerequisites import (
    CheckResult,
    blocking,
    check_container_runtime,
    check_disk,
    check_outbound_network,
    check_partitions,
    check_prerequisites,
    check_scheduler_commands,
    check_ssh,
    read_stamp,
)

__all__ = [
    "COMPLIANCE_PLAYBOOK",
    "RUNTIME_PLAYBOOK",
    "CentreEnrolment",
    "CheckResult",
    "DeploymentError",
    "EnrolmentRefused",
    "EnrolmentView",
    "Enrolments",
    "NotCompliant",
    "PlaybookResult",
    "ansible_dir",
    "blocking",
    "check_container_runtime",
    "check_disk",
    "check_outbound_network",
    "check_partitions",
    "check_prerequisites",
    "check_scheduler_commands",
    "check_ssh",
    "heroes_version",
    "inventory_for",
    "read_stamp",
    "run_playbook",
    "run_smoke_job",
    "runtime_checks",
    "runtime_extravars",
    "smoke_directory",
    "summarise",
]
