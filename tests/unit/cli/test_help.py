"""Every command's --help renders (rich markup in a help text would break it)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from heroes.cli import app

COMMANDS = [[], ["login"], ["logout"], ["whoami"], ["can"], ["run"], ["gateway"]] + [
    [noun, verb] for noun, verbs in {"org": ["create", "list", "delete"], "project": ["create", "list", "delete"],
                                     "user": ["create", "list", "delete"],
                                     "role": ["grant", "revoke", "list"]}.items() for verb in ["", *verbs]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "heroes")
def test_help_renders(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*[part for part in command if part], "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "Traceback" not in result.output


def test_the_resource_syntax_shows_in_the_help_of_can() -> None:
    assert "KIND:ORGANISATION[/PROJECT]" in CliRunner().invoke(app, ["can", "--help"]).output
