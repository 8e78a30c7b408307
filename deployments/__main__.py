"""``python -m heroes.deployments [--replace]``: serve the HEROES deployments.

Environment: ``HEROES_CENTRES`` (comma-separated HPCCentre blocks to check for compliance,
default ``local-slurm``), ``HEROES_CLOUD_ACCOUNT`` (an AWSAccount block whose idle nodes to clean).
``--replace`` takes over deployment names that ``prefect deploy`` put on a work pool.
"""

import argparse
import os
import sys

from heroes.blocks.defaults import DEFAULT_CENTRE
from heroes.deployments import DeploymentClashError, serve

parser = argparse.ArgumentParser(prog="python -m heroes.deployments",
                                 description="Serve the HEROES deployments from this process.")
parser.add_argument("--replace", action="store_true",
                    help="take over names that `prefect deploy` registered on a work pool")
args = parser.parse_args()
centres = [c for c in os.environ.get("HEROES_CENTRES", DEFAULT_CENTRE).split(",") if c]
try:
    serve(centres=centres, cloud_account=os.environ.get("HEROES_CLOUD_ACCOUNT") or None,
          replace=args.replace)
except DeploymentClashError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
