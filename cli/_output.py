"""How the CLI speaks: rich tables on stdout, errors in red on stderr, one exit code per outcome.

Exit codes, so that scripts can tell outcomes apart without reading the words:

=====  ==================================================================
0      done
1      failed: Keycloak unreachable or refusing, a bad name, a missing block
2      wrong usage (Typer's own code for a bad option or argument)
3      not logged in, or the stored token no longer proves who you are (401)
4      refused: the actions table does not let you do this (403)
=====  ==================================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Final, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from heroes_core.errors import HeroesError, KeysUnavailableError, PermissionDeniedError, TokenError

FAILED: Final = 1
NOT_AUTHENTICATED: Final = 3
REFUSED: Final = 4

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


class Output(StrEnum):
    """What a listing prints: a table for people, JSON for scripts."""

    TABLE = "table"
    JSON = "json"


def exit_with_error(message: str, code: int = FAILED) -> NoReturn:
    """Print ``message`` in red on stderr and stop with ``code``."""
    errors.print(message, style="red", markup=False)
    raise typer.Exit(code)


def done(message: str) -> None:
    """Print a success line."""
    console.print(message, style="green", markup=False)


def changes(made: Sequence[str], nothing: str) -> None:
    """Print what a provisioning call changed, or that nothing needed to."""
    for change in made:
        done(change)
    if not made:
        console.print(nothing, markup=False)


def listing(rows: Sequence[dict[str, Any]], output: Output, *, title: str, columns: Sequence[str],
            empty: str) -> None:
    """Rows as a rich table (or JSON); list values are joined with commas in the table."""
    if output is Output.JSON:
        console.print(json.dumps(list(rows), indent=2, default=sorted), markup=False)
        return
    if not rows:
        console.print(empty, markup=False)
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column.replace("_", " ").title(), style="cyan" if column == columns[0] else None,
                         no_wrap=column == columns[0])
    for row in rows:
        table.add_row(*(", ".join(sorted(value)) if isinstance(value, list | set | frozenset)
                        else str(value) for value in (row[column] for column in columns)))
    console.print(table)


@contextmanager
def reported() -> Iterator[None]:
    """Turn HEROES' errors into a message and the exit code of their kind."""
    try:
        yield
    except PermissionDeniedError as error:
        exit_with_error(f"Refused (403): {error}", REFUSED)
    except KeysUnavailableError as error:
        exit_with_error(f"The identity provider's keys are unavailable: {error}", FAILED)
    except TokenError as error:
        exit_with_error(f"Not authenticated (401, {error.reason.value}): {error}", NOT_AUTHENTICATED)
    except HeroesError as error:
        exit_with_error(str(error), FAILED)
    except ValidationError as error:
        exit_with_error(f"Invalid value: {error.errors()[0]['msg']}", FAILED)
