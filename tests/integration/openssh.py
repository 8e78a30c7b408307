"""The test bed's centre on the OpenSSH backend: its settings, and how masters left behind in a
socket directory are closed (tests/integration/conftest.py's ``control_base``)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from heroes_core.sites import SiteConfig
from heroes_core.transport import SSHConfig

# SSHConfig's fields that a centre's SiteConfig does not have (or takes from the block).
_CONNECTION_ONLY = {"site", "reconnect_attempts", "backoff_initial", "backoff_max", "private_key"}


def openssh_config(centre: dict[str, Any], **overrides: Any) -> SSHConfig:
    """The test bed's first centre (``centre_info``) on the 'openssh' backend, with its key."""
    values: dict[str, Any] = {
        "site": "local-slurm", "host": centre["host"], "port": centre["port"], "user": centre["user"],
        "private_key": Path(centre["private_key_path"]).read_text(), "host_keys": (centre["host_key"],),
        "backend": "openssh", "reconnect_attempts": 3, "control_persist_s": 60,
    }
    return SSHConfig(**(values | overrides))


def openssh_site_config(centre: dict[str, Any], **settings: Any) -> SiteConfig:
    """That centre as a block's SiteConfig (``settings``: the block's other fields)."""
    ssh = openssh_config(centre)
    return SiteConfig(name="local-slurm", work_root=centre["work_root"],
                      **(ssh.model_dump(exclude=_CONNECTION_ONLY) | settings), private_key=ssh.private_key)


def close_masters(directory: Path) -> None:
    """Close every master whose socket is in ``directory``."""
    for sock in directory.glob("m-*"):
        if sock.is_socket():
            subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                           capture_output=True, check=False)
