"""``python -m heroes.deployments``: serve the HEROES deployments.

Environment: ``HEROES_CENTRES`` (comma-separated HPCCentre blocks to check for compliance,
default ``local-slurm``), ``HEROES_CLOUD_ACCOUNT`` (an AWSAccount block whose idle nodes to clean).
"""

import os

from heroes.deployments import serve

centres = [c for c in os.environ.get("HEROES_CENTRES", "local-slurm").split(",") if c]
serve(centres=centres, cloud_account=os.environ.get("HEROES_CLOUD_ACCOUNT") or None)
