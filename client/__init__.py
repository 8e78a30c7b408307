"""The HEROES Python SDK: a user's own client of the gateway (``heroes.client``).

``HeroesClient(url, token)`` talks to the HEROES API as the user the token names; its
``data`` attribute puts and gets files through presigned URLs (multipart, resumable,
checksummed), lists, moves and deletes them; ``apps`` registers applications, pushes their
images, and runs, publishes (after its functional test passes) and unpublishes a version;
``runs`` lists the workflows you may launch, launches one (``"flow/deployment"`` with its
parameters, in one of your projects), reads a run, its logs and artifacts, cancels it, and
``wait`` follows it to a final state (or a pause that needs an answer). Launching returns a
:class:`RunView`; every refusal is an :class:`ApiError` with the gateway's own words. The
``heroes data``, ``heroes app`` and ``heroes run`` commands are built on it.
"""

from heroes.client._api import GATEWAY_ENV, HeroesClient, gateway_url
from heroes.client._apps import AppsClient
from heroes.client._data import DataClient, Progress
from heroes.client._errors import ApiError
from heroes.client._runs import (
    FINAL_STATES,
    ArtifactView,
    DeploymentView,
    LogLine,
    RunsClient,
    RunTimeoutError,
    RunView,
    split_deployment,
)

__all__ = ["FINAL_STATES", "GATEWAY_ENV", "ApiError", "AppsClient", "ArtifactView", "DataClient",
           "DeploymentView", "HeroesClient", "LogLine", "Progress", "RunTimeoutError", "RunView",
           "RunsClient", "gateway_url", "split_deployment"]
