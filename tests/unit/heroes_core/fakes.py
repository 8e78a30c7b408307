"""A scripted transport: the test implementation of the Transport interface."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from heroes_core.transport import CommandResult, Transport

Responder = Callable[[list[str], bytes | None], CommandResult]


def ok(argv: Sequence[str], stdout: str = "", exit_code: int = 0, stderr: str = "") -> CommandResult:
    return CommandResult(argv=tuple(argv), exit_code=exit_code, stdout=stdout, stderr=stderr)


class ScriptedTransport(Transport):
    """Answers each command from a table keyed by program name and records every call."""

    def __init__(self, answers: dict[str, str | Responder], site: str = "fake") -> None:
        self.site = site
        self.answers = answers
        self.calls: list[list[str]] = []
        self.stdins: list[bytes | None] = []
        self._commands_sent = 0

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None,
            idempotent: bool = True) -> CommandResult:
        args = [str(a) for a in argv]
        self.calls.append(args)
        self.stdins.append(stdin)
        self._commands_sent += 1
        answer = self.answers.get(args[0], "")
        if callable(answer):
            return answer(args, stdin)
        return ok(args, answer)

    def programs(self) -> list[str]:
        return [call[0] for call in self.calls]
