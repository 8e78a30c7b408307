"""Artifact keys: Prefect accepts only lower-case letters, digits and '-'.

Keys are built from names users choose (workflow ``my_workflow.v2``, centre
``Site_A``); a key Prefect refuses crashes a flow after all its jobs ran. Every
key goes through :func:`artifact_key`, which maps any name to a valid key and
keeps distinct names distinct (a short digest is added whenever the mapping
had to change a character).
"""

from __future__ import annotations

import hashlib
import re

_INVALID = re.compile(r"[^a-z0-9-]+")
_MAX_LENGTH = 100


def artifact_key(*parts: str) -> str:
    """A valid, collision-free Prefect artifact key for ``parts`` joined by '-'."""
    wanted = "-".join(parts)
    slug = _INVALID.sub("-", wanted.lower()).strip("-") or "artifact"
    if slug != wanted or len(slug) > _MAX_LENGTH:
        digest = hashlib.sha256(wanted.encode()).hexdigest()[:8]
        slug = f"{slug[:_MAX_LENGTH - 9].rstrip('-')}-{digest}"
    return slug


__all__ = ["artifact_key"]
