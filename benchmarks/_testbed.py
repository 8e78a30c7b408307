"""What every benchmark shares: the test bed's first centre, opened the production way."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

from heroes_core.sites import Site, SiteConfig, open_site

# The test bed's own Python helpers (testbed.json reader, block registration) live beside its
# scripts, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "testbed"))

from testbed_config import read_testbed


def testbed() -> dict[str, Any]:
    try:
        return read_testbed()
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


def register_blocks() -> None:
    """The test bed's blocks, prices and budgets. Imports Prefect: set PREFECT_API_URL first."""
    from register_blocks import register_testbed_blocks

    register_testbed_blocks()


def centre() -> dict[str, Any]:
    first: dict[str, Any] = testbed()["centres"][0]
    return first


def open_centre(**overrides: Any) -> Site:
    info = centre()
    config = SiteConfig(name=info["name"], host=info["host"], port=info["port"], user=info["user"],
                        private_key=Path(info["private_key_path"]).read_text(),  # type: ignore[arg-type]
                        host_keys=(info["host_key"],), work_root=info["work_root"],
                        image_roots=(str(Path(info["image"]["path"]).parent),),
                        container_runtime="charliecloud", **overrides)
    return open_site(config)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
