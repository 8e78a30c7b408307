"""The transport interface: run a command on a site, whatever sits in between.

Like httpx's transports, the scheduler and data layers talk to one small
interface and never know whether the site is this machine or a login node at
the other end of an SSH link. Commands are always argv lists: quoting happens in
exactly one place (:func:`shell_join`), so no job name, parameter or file name
can ever be read by a remote shell as code.
"""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

DEFAULT_COMMAND_TIMEOUT = 60.0


def shell_join(argv: Sequence[str]) -> str:
    """Quote every argument for a POSIX shell; the only way argv becomes a string."""
    if not argv:
        raise ValueError("empty command")
    return " ".join(shlex.quote(str(arg)) for arg in argv)


class CommandResult(BaseModel):
    """What a finished command returned."""

    model_config = ConfigDict(frozen=True)

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """A one-line account of a failure, for error messages."""
        text = (self.stderr.strip() or self.stdout.strip() or "(no output)").splitlines()
        tail = " | ".join(text[-3:])
        return f"`{shell_join(self.argv)[:200]}` exited {self.exit_code}: {tail}"


class Transport(ABC):
    """Runs commands on one site.

    ``idempotent`` tells the transport whether a command may be sent again after
    the link dropped mid-command: queries may, ``sbatch`` may not (the caller
    reconciles by job key instead).
    """

    site: str

    @abstractmethod
    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> CommandResult:
        """Run ``argv`` and return its result; a non-zero exit is not an error here."""

    def check(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> CommandResult:
        """Run ``argv`` and raise :class:`TransportError` if it exits non-zero."""
        from heroes_core.errors import TransportError

        result = self.run(argv, stdin=stdin, timeout=timeout, idempotent=idempotent)
        if not result.ok:
            raise TransportError(result.describe(), site=self.site)
        return result

    @property
    def commands_sent(self) -> int:
        """How many commands this transport has run (for benchmarks and poll accounting)."""
        return self._commands_sent

    _commands_sent: int = 0

    def close(self) -> None:  # noqa: B027 - optional hook, local transports hold nothing
        """Release connections; safe to call more than once."""
