"""Transports: one interface for running commands on a site, locally or over SSH."""

from heroes_core.transport._base import CommandResult, Transport, shell_join
from heroes_core.transport._local import LocalTransport
from heroes_core.transport._ssh import (
    SSHConfig,
    SSHSettings,
    SSHTransport,
    fingerprint,
    parse_host_key_line,
    shared_ssh_transport,
)

__all__ = [
    "CommandResult",
    "LocalTransport",
    "SSHConfig",
    "SSHSettings",
    "SSHTransport",
    "Transport",
    "fingerprint",
    "parse_host_key_line",
    "shared_ssh_transport",
    "shell_join",
]
