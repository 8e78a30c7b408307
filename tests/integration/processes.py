"""Stopping the throw-away servers integration tests start (moto, sshd, a Prefect runner)."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """TERM, then KILL after ``grace_s``; returns once the process is reaped."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
