"""A packager's functional test: a run of the exact image with known inputs, and what it must produce.

Publication needs it (design 4.5.1: "Users who wish to publish their applications must test the
correct application behaviour before publishing"): the test runs on the platform, and only a
pass for the version's own digest lets the version be published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.models import safe_relative_path


class ExpectedOutput(BaseModel):
    """One file the run must leave among its outputs, and what it must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="Path among the job's outputs, e.g. 'result.txt'.")
    contains: str | None = Field(default=None, max_length=10_000, description="Text the file must contain.")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                               description="The file's exact digest (hex).")

    @field_validator("file")
    @classmethod
    def _inside(cls, value: str) -> str:
        return safe_relative_path(value)

    def problem(self, content: bytes | None) -> str | None:
        """Why the output fails this expectation, or None when it meets it."""
        if content is None:
            return f"{self.file} was not produced"
        if self.sha256 is not None and hashlib.sha256(content).hexdigest() != self.sha256:
            return f"{self.file} does not have the expected sha256 {self.sha256}"
        if self.contains is not None and self.contains.encode() not in content:
            return f"{self.file} does not contain {self.contains!r}"
        return None


class FunctionalTest(BaseModel):
    """Parameters and inputs to run the version with, and the outputs that prove it works."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list, description="Files in the packager's home to stage in.")
    expect: list[ExpectedOutput] = Field(min_length=1, description="At least one output to check.")
    time_limit_minutes: int = Field(default=10, ge=1, le=24 * 60)

    def problems(self, read: Callable[[str], bytes | None]) -> list[str]:
        """Every expectation the outputs fail (``read`` gives an output's bytes, None if absent)."""
        return [problem for output in self.expect if (problem := output.problem(read(output.file)))]
