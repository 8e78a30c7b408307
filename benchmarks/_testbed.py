"""What every benchmark shares: the test bed's first centre, opened the production way."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from heroes_core.sites import Site, SiteConfig, open_site

TESTBED_FILE = Path(os.environ.get("HEROES_TESTBED_DIR", "/var/lib/heroes-testbed")) / "testbed.json"


def testbed() -> dict[str, Any]:
    if not TESTBED_FILE.exists():
        raise SystemExit(f"{TESTBED_FILE} is missing: run scripts/testbed.sh up first")
    data: dict[str, Any] = json.loads(TESTBED_FILE.read_text())
    return data


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
