"""What the blocks share: where their logos and documentation live, and how a block field
takes its definition from the core."""

from __future__ import annotations

from copy import copy
from typing import Any

from pydantic import BaseModel

DOCS_URL = "https://heroes-project.github.io/heroes/"
LOGO_BASE_URL = "https://heroes-project.github.io/heroes/logos/"


def core_setting(model: type[BaseModel], name: str) -> Any:
    """The core's definition of ``model``'s field ``name`` (default, bounds, checks given as
    ``Annotated`` validators, description), for the block field of the same name and type.

    The core defines each setting once; a block that shows it in its form takes it from
    there rather than repeating it. Typed ``Any``, as ``pydantic.Field`` is, so that it can
    stand as the field's default in the class body.
    """
    return copy(model.model_fields[name])
