"""Flows the heroes-slurm worker test deploys. They run inside a Slurm job on the test bed's
centre, as its service account, from a copy of this file: they import Prefect and nothing
of HEROES."""

from __future__ import annotations

import os
import socket
import time

from prefect import flow, get_run_logger


@flow(name="heroes-slurm-where-am-i")
def where_am_i() -> str:
    """Say which Slurm job and host ran the flow."""
    where = f"SLURM_JOB_ID={os.environ.get('SLURM_JOB_ID', 'none')} host={socket.gethostname()}"
    get_run_logger().info(f"ran in {where}")
    return where


@flow(name="heroes-slurm-sleeper")
def sleeper(seconds: float = 600) -> None:
    """Stay running until cancelled."""
    get_run_logger().info(f"sleeping in SLURM_JOB_ID={os.environ.get('SLURM_JOB_ID', 'none')}")
    time.sleep(seconds)
