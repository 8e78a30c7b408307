"""Where a process's log records go, as settings: the ``LogSink`` block's fields come from here.

A file by default, because it needs nothing running; a search cluster when one is given. The
search sink spools to disk whatever the cluster cannot take, so its spool directory must be on
a disk with room (``spool_max_bytes`` bounds it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from heroes_core.logs.sinks import FileSink, LogSink


class SinkSettings(BaseModel):
    """A log sink: a rotated NDJSON file, or a search cluster (OpenSearch) with a disk spool."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["file", "search"] = Field(
        default="file", description="Where records go: a local NDJSON file, or a search cluster.")
    path: str = Field(default="~/.heroes/logs/heroes.ndjson",
                      description="The NDJSON file (kind file); rotated copies sit beside it as .1, .2, ....")
    max_bytes: int = Field(default=50 * 2**20, ge=1024,
                           description="The size at which the file is rotated, in bytes.")
    backup_count: int = Field(default=10, ge=0, description="How many rotated files are kept.")
    url: str | None = Field(default=None, description="The search cluster's URL, such as "
                                                      "https://search.example.org:9200 (kind search).")
    username: str | None = Field(default=None, description="The user HEROES logs in to the cluster as.")
    password: SecretStr | None = Field(default=None, description="That user's password.")
    verify_certs: bool = Field(default=True, description="Check the cluster's TLS certificate.")
    ca_certs: str | None = Field(default=None, description="A CA bundle to check the cluster's "
                                                           "certificate with, if not a public CA.")
    index_prefix: str = Field(default="heroes-logs", pattern=r"^[a-z0-9][a-z0-9_-]*$",
                              description="Indices are named <prefix>-YYYY.MM.DD; the index "
                                          "template covers <prefix>-*.")
    spool_dir: str = Field(default="~/.heroes/logs/spool",
                           description="Where records wait, on disk, while the cluster is away.")
    spool_max_bytes: int = Field(default=2**30, ge=2**20,
                                 description="The most the spool may hold, in bytes.")
    batch_size: int = Field(default=500, ge=1, le=10_000,
                            description="Records per bulk request.")

    @model_validator(mode="after")
    def _search_needs_url(self) -> SinkSettings:
        if self.kind == "search" and not self.url:
            raise ValueError("a search log sink needs the cluster's url")
        return self

    def open(self) -> LogSink:
        """The sink these settings describe, ready to take records."""
        if self.kind == "file":
            return FileSink(Path(self.path), max_bytes=self.max_bytes, backup_count=self.backup_count)
        from heroes_core.logs.search import SearchSink  # its client is slow to import: only when used

        assert self.url is not None  # checked above
        return SearchSink.connect(
            self.url, spool_dir=Path(self.spool_dir), username=self.username,
            password=self.password.get_secret_value() if self.password else None,
            verify_certs=self.verify_certs, ca_certs=self.ca_certs, index_prefix=self.index_prefix,
            batch_size=self.batch_size, spool_max_bytes=self.spool_max_bytes)
