"""The SDK's one error: what the gateway refused, with its status and words."""

from __future__ import annotations


class ApiError(Exception):
    """The gateway refused or failed a request (status 0: it could not be reached)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{status}: {detail}" if status else detail)
