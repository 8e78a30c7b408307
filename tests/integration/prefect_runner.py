"""Start `python -m heroes.deployments` for a test and wait until it serves run-job."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from tests.integration.processes import stop


@contextmanager
def serving(log_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m heroes.deployments ARGS` until the block ends, once it serves run-job."""
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    started = datetime.now(UTC)
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "heroes.deployments", *args], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        with get_client(sync_client=True) as client:
            while True:
                try:
                    deployment = client.read_deployment_by_name("run-job/run-job")
                    if deployment.updated and deployment.updated >= started \
                            and deployment.work_pool_name is None:
                        break
                except Exception:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Prefect runner did not start serving run-job:\n"
                                f"{log_path.read_text()}", pytrace=False)
                time.sleep(0.5)
        yield proc
    finally:
        stop(proc)
