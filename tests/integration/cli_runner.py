"""`heroes` run in-process for the integration tests, one credentials file per user."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from heroes.cli import app


class Cli:
    """Runs `heroes` in-process for one user, whose credentials file is their own."""

    def __init__(self, folder: Path, block: str) -> None:
        self.folder, self.block = folder, block
        self.runner = CliRunner()

    def env(self, user: str) -> dict[str, str]:
        return {"HEROES_CREDENTIALS": str(self.folder / f"{user}.json"), "HEROES_REALM_BLOCK": self.block}

    def __call__(self, user: str, *args: str, input: str | None = None,
                 env: dict[str, str] | None = None) -> tuple[int, str, str]:
        result = self.runner.invoke(app, list(args), input=input, env={**self.env(user), **(env or {})})
        assert "Traceback" not in result.output, result.output
        return result.exit_code, result.stdout, result.stderr

    def ok(self, user: str, *args: str, input: str | None = None) -> str:
        code, out, err = self(user, *args, input=input)
        assert code == 0, f"heroes {' '.join(args)} as {user}: exit {code}\n{out}\n{err}"
        return out

    def login(self, user: str, password: str) -> str:
        return self.ok(user, "login", "--user", user, "--password-stdin", input=password + "\n")
