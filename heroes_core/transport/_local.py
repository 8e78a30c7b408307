"""Run commands on this machine, for laptops, the demo and the test bed itself."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from heroes_core.errors import CommandTimeoutError, TransportError
from heroes_core.transport._base import DEFAULT_COMMAND_TIMEOUT, CommandResult, Transport


class LocalTransport(Transport):
    """Runs argv directly with :mod:`subprocess`; no shell is involved."""

    def __init__(self, site: str = "local", *, command_timeout: float = DEFAULT_COMMAND_TIMEOUT):
        self.site = site
        self.command_timeout = command_timeout
        self._commands_sent = 0

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> CommandResult:
        args = [str(arg) for arg in argv]
        self._commands_sent += 1
        try:
            proc = subprocess.run(
                args,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=timeout or self.command_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeoutError(
                f"`{args[0]}` did not finish within {exc.timeout:.0f} s", site=self.site,
                fix="raise the command timeout or check the scheduler's health",
            ) from exc
        except FileNotFoundError as exc:
            raise TransportError(f"command `{args[0]}` not found", site=self.site,
                                 fix=f"install {args[0]} or add it to PATH") from exc
        return CommandResult(
            argv=tuple(args),
            exit_code=proc.returncode,
            stdout=proc.stdout.decode(errors="replace"),
            stderr=proc.stderr.decode(errors="replace"),
        )
