"""A real moto server on 127.0.0.1 for tests of AWS code paths (real HTTP, real botocore).

It fails the run loudly if it cannot start: a component that cannot run is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import stop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def moto_server(tmp: Path, env: dict[str, str]) -> Iterator[str]:
    """Start ``moto.server`` with extra ``env``; yield its URL; stop it afterwards."""
    port = free_port()
    log = tmp / "moto_server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}:\n{log.read_text()}", pytrace=False)
            try:
                if httpx.get(f"{url}/moto-api/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"moto_server did not answer on {url} within 30 s:\n{log.read_text()}",
                            pytrace=False)
            time.sleep(0.2)
        yield url
    finally:
        stop(proc, grace_s=10)
