"""An application's parameters: a JSON Schema (draft 2020-12), checked once, applied to every run.

The schema is checked when it enters the catalogue, not when the first user trips over
it: it must be a valid draft 2020-12 schema whose references all resolve inside it
(HEROES never fetches a schema from the network). A run's parameters are then checked
against it before anything is reserved or staged, and every problem is reported at once,
each under the path of the parameter at fault, so the user fixes them in one go.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import jsonschema  # type: ignore[import-untyped]

from heroes_core.errors import SpecError

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
ROOT = "parameters"

_Validator: Any = jsonschema.Draft202012Validator


class InvalidParametersError(SpecError):
    """A run's parameters do not match the application's schema.

    ``problems`` holds one ``(path, message)`` pair per offending parameter, for a form
    to show each next to its field.
    """

    def __init__(self, message: str, *, problems: tuple[tuple[str, str], ...], fix: str) -> None:
        self.problems = problems
        super().__init__(message, fix=fix)


def parameter_path(parts: Iterable[str | int], root: str = ROOT) -> str:
    """``parameters.mesh.cells[2]``: where a parameter is, as a user would write it."""
    path = root
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def ensure_json(value: object, what: str) -> None:
    """Refuse what the database's JSON columns could not store and give back as it was."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SpecError(f"{what} is not plain JSON: {error}",
                        fix="use only objects, arrays, strings, finite numbers, booleans and null"
                        ) from None


def check_parameter_schema(schema: Mapping[str, Any], what: str = "parameter schema") -> dict[str, Any]:
    """``schema`` as a plain dict if it is a valid draft 2020-12 JSON Schema, else :class:`SpecError`."""
    if not isinstance(schema, Mapping):
        raise SpecError(f"{what} must be a JSON object, not {type(schema).__name__}",
                        fix='give a JSON Schema object, e.g. {"type": "object", "properties": {...}}')
    plain = dict(schema)
    ensure_json(plain, what)
    declared = plain.get("$schema")
    if declared is not None and str(declared).rstrip("#") != DRAFT_2020_12:
        raise SpecError(f"{what} declares $schema {declared!r}; HEROES checks parameters with "
                        f"draft 2020-12", fix=f"set $schema to {DRAFT_2020_12!r} (or leave it out) "
                                              "and adapt the schema to that draft")
    try:
        _Validator.check_schema(plain)
    except jsonschema.exceptions.SchemaError as error:
        at = parameter_path(error.absolute_path, root="schema")
        raise SpecError(f"{what} is not a valid JSON Schema (draft 2020-12): at {at}: "
                        f"{error.message}", fix="correct the schema at that place") from None
    for where, reference in _references(plain, ()):
        if not reference.startswith("#"):
            raise SpecError(f"{what} refers outside itself at {parameter_path(where, 'schema')}: "
                            f"{reference!r}", fix="put the referenced definitions under $defs and "
                                                  "refer to them as '#/$defs/<name>'")
        if (reference.startswith("#/") or reference == "#") and not _resolves(plain, reference):
            raise SpecError(f"{what} refers to {reference!r} at {parameter_path(where, 'schema')}, "
                            "which it does not contain", fix="add the definition, or correct the reference")
    return plain


def validate_parameters(schema: Mapping[str, Any], params: object, application: str) -> None:
    """Raise :class:`InvalidParametersError` naming every parameter that breaks ``schema``."""
    validator = _Validator(schema, format_checker=_Validator.FORMAT_CHECKER)
    problems = sorted(set(_problems(validator.iter_errors(params))))
    if problems:
        listed = "; ".join(f"{path}: {message}" for path, message in problems)
        raise InvalidParametersError(
            f"parameters for '{application}' do not match its schema: {listed}",
            problems=tuple(problems),
            fix="correct the parameters named above (the application's parameter_schema says "
                "what each takes)")


def _problems(errors: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for error in errors:
        parts: list[str | int] = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            # the message names the property; its path is the object's: name the property itself
            for name in error.validator_value:
                if name not in error.instance:
                    yield parameter_path([*parts, name]), "is required"
            continue
        yield parameter_path(parts), str(error.message)


def _references(node: object, where: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield (*where, key), value
            else:
                yield from _references(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, (*where, index))


def _resolves(schema: Mapping[str, Any], reference: str) -> bool:
    node: object = schema
    for raw in unquote(reference[2:]).split("/") if reference != "#" else ():
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


__all__ = ["InvalidParametersError", "check_parameter_schema", "ensure_json", "parameter_path",
           "validate_parameters"]
