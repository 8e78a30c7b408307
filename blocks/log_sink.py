"""The log sink block: where HEROES' ECS log records go, and the switch that sends them there."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Literal

from prefect.blocks.core import Block
from pydantic import SecretStr

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL, core_setting
from heroes_core.logs import LogSettings, configure, current_sink, register_secrets_of
from heroes_core.logs import LogSink as CoreLogSink
from heroes_core.logs.settings import SinkSettings

SINK_ENV = "HEROES_LOG_SINK"
"""The name of the ``LogSink`` block a process sends its records to (with ``HEROES_LOG_FORMAT=ecs``)."""


class LogSink(Block):
    """Where HEROES' log records go: a local NDJSON file rotated by size (the default), or a
    search cluster (OpenSearch, through ``opensearch-py``) fed in bulk batches.

    A search sink never loses a record it accepted and never fails a workflow: while the
    cluster is away, records wait in a disk spool (``spool_dir``) and are replayed in order when
    it is back, under deterministic ids so that nothing is stored twice. It installs an index
    template for the HEROES fields (``heroes.*``) on first use.
    """

    _block_type_name = "HEROES Log Sink"
    _block_type_slug = "heroes-log-sink"
    # No logo of its own yet: the database's stack of disks stands for a store of records.
    _logo_url = LOGO_BASE_URL + "database.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#logs"  # type: ignore[assignment]
    _description = ("Where HEROES' ECS log records go: a rotated NDJSON file, or an OpenSearch "
                    "cluster with a disk spool.")
    _code_example = """
    from heroes.blocks import LogSink

    sink = LogSink.load("BLOCK_NAME")
    sink.configure()  # this process now logs ECS JSON to the sink

    # or, in any HEROES process: HEROES_LOG_FORMAT=ecs HEROES_LOG_SINK=BLOCK_NAME
    """

    # The core defines these settings (heroes_core.logs.settings.SinkSettings).
    kind: Literal["file", "search"] = core_setting(SinkSettings, "kind")
    path: str = core_setting(SinkSettings, "path")
    max_bytes: int = core_setting(SinkSettings, "max_bytes")
    backup_count: int = core_setting(SinkSettings, "backup_count")
    url: str | None = core_setting(SinkSettings, "url")
    username: str | None = core_setting(SinkSettings, "username")
    password: SecretStr | None = core_setting(SinkSettings, "password")
    verify_certs: bool = core_setting(SinkSettings, "verify_certs")
    ca_certs: str | None = core_setting(SinkSettings, "ca_certs")
    index_prefix: str = core_setting(SinkSettings, "index_prefix")
    spool_dir: str = core_setting(SinkSettings, "spool_dir")
    spool_max_bytes: int = core_setting(SinkSettings, "spool_max_bytes")
    batch_size: int = core_setting(SinkSettings, "batch_size")

    def settings(self) -> SinkSettings:
        """The core's settings, checked as the core checks them (a search sink needs a url)."""
        return SinkSettings(**{name: getattr(self, name) for name in SinkSettings.model_fields})

    def sink(self) -> CoreLogSink:
        """A sink writing where this block says (each call opens a new one)."""
        register_secrets_of(self)
        return self.settings().open()

    def configure(self) -> bool:
        """Send this process's records to this sink, as ECS JSON (whatever HEROES_LOG_FORMAT says)."""
        return configure("ecs", sink=self.sink())


_lock = threading.Lock()
_configured: dict[str, CoreLogSink] = {}


def configure_logging(environ: Mapping[str, str] | None = None) -> bool:
    """Set this process's logging up from its environment; return whether ECS output is on.

    ``HEROES_LOG_FORMAT=ecs`` switches ECS JSON on (on standard error, and into the sink);
    ``HEROES_LOG_SINK=<block name>`` names the ``LogSink`` block the records go to (else
    ``HEROES_LOG_FILE``, else standard error only). Cheap to call again: the block is loaded
    once per process. If the block cannot be loaded, that is said on standard error and
    logging goes on without it: a workflow never fails because its logs cannot be shipped.
    """
    env = os.environ if environ is None else environ
    settings = LogSettings.from_environment(env)
    name = env.get(SINK_ENV, "").strip()
    if settings.format != "ecs" or not name:
        return configure(environ=env)
    with _lock:
        sink = _configured.get(name)
        if sink is None or sink is not current_sink():
            try:
                block = LogSink.load(name)
                if not isinstance(block, LogSink):
                    raise TypeError(f"LogSink.load({name!r}) gave {type(block).__name__}: call it from "
                                    "synchronous code")
                sink = block.sink()
            except Exception as exc:
                sys.stderr.write(f"HEROES logging: cannot open the log sink block {name!r} ({exc}); "
                                 "logging to standard error only. Fix: create the block "
                                 f"(prefect block register -m heroes.blocks) or correct {SINK_ENV}\n")
                return configure(environ=env)
            _configured[name] = sink
    return configure("ecs", sink=sink, environ=env)
