"""An application's command: the argv a run starts, with ``{parameter}`` placeholders.

A placeholder is a whole ``{name}`` naming a top-level parameter of the application's schema;
it is replaced by the parameter's value (text as is, anything else as JSON), one argument for
one argument, never through a shell. All the parameters also reach the container as JSON in
``HEROES_PARAMETERS``, for applications that read them whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from heroes_core.errors import SpecError

PARAMETERS_ENV: Final = "HEROES_PARAMETERS"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
MAX_ARGS: Final = 256


def check_command(command: Sequence[str], schema: Mapping[str, Any]) -> list[str]:
    """The command, if every argument is text and every placeholder names a parameter."""
    argv = list(command)
    if len(argv) > MAX_ARGS or any(not isinstance(arg, str) or not arg or "\x00" in arg for arg in argv):
        raise SpecError(f"the command must be at most {MAX_ARGS} non-empty text arguments",
                        fix='give it as a list, e.g. ["solver", "--steps", "{steps}"]')
    known = set((schema.get("properties") or {}).keys())
    unknown = sorted({name for arg in argv for name in _PLACEHOLDER.findall(arg)} - known)
    if unknown:
        raise SpecError(f"the command names parameter(s) {', '.join(unknown)} its schema does not declare",
                        fix=f"use one of: {', '.join(sorted(known)) or '(none declared)'}")
    return argv


def render_command(command: Sequence[str], parameters: Mapping[str, Any]) -> list[str]:
    """The argv of one run: each placeholder replaced by its (validated) parameter's value.

    A placeholder whose parameter was not given (optional, no default) drops the argument it
    is in, so ``--mesh={mesh}`` disappears rather than reaching the program half filled: an
    optional parameter's flag and placeholder belong in one argument.
    """
    argv: list[str] = []
    for arg in command:
        names = _PLACEHOLDER.findall(arg)
        if any(name not in parameters for name in names):
            continue
        argv.append(_PLACEHOLDER.sub(lambda match: _text(parameters[match.group(1)]), arg))
    if not argv:
        raise SpecError("the application's command is empty for these parameters",
                        fix="ask its packager to give the application a command")
    return argv


def parameters_env(parameters: Mapping[str, Any]) -> dict[str, str]:
    return {PARAMETERS_ENV: json.dumps(parameters, separators=(",", ":"), sort_keys=True)}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
