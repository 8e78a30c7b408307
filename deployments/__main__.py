"""``python -m heroes.deployments``: serve the HEROES deployments."""

from heroes.deployments import serve

serve()
