"""Transports: one interface for running commands on a site, locally or over SSH (paramiko, or
OpenSSH over a master connection shared by every process on the host)."""

from heroes_core.transport._base import CommandResult, Transport, shell_join
from heroes_core.transport._local import LocalTransport
from heroes_core.transport._openssh import (
    CONTROL_DIR_ENV,
    MasterStatus,
    OpenSSHTransport,
    close_master,
    control_dir,
    master_status,
    open_master,
    shared_openssh_transport,
    shared_transport,
)
from heroes_core.transport._ssh import (
    SSHConfig,
    SSHSettings,
    SSHTransport,
    fingerprint,
    parse_host_key_line,
    shared_ssh_transport,
)

__all__ = [
    "CONTROL_DIR_ENV",
    "CommandResult",
    "LocalTransport",
    "MasterStatus",
    "OpenSSHTransport",
    "SSHConfig",
    "SSHSettings",
    "SSHTransport",
    "Transport",
    "close_master",
    "control_dir",
    "fingerprint",
    "master_status",
    "open_master",
    "parse_host_key_line",
    "shared_openssh_transport",
    "shared_ssh_transport",
    "shared_transport",
    "shell_join",
]
