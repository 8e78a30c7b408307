"""Saving a changed copy of a test-bed block under another name, without touching the original.

A copy made with ``model_copy`` keeps the original's block document id, and Prefect's
``save(name, overwrite=True)`` updates *that* document when the new name is already taken (a
second run of the suite): the copy's settings land in the original. A test that broke
``local-slurm`` that way broke every later test using a partition the copy lacked.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.blocks.core import Block

B = TypeVar("B", bound=Block)


def save_copy(block: B, name: str, **changes: Any) -> B:
    """Save ``block`` with ``changes`` as a new document named ``name`` (replacing any of that name)."""
    data = block.model_dump(context={"include_secrets": True}, exclude={"block_type_slug"})
    copy = type(block).model_validate({**data, **changes})
    copy.save(name, overwrite=True)
    return copy
