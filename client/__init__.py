"""The HEROES Python SDK: a user's own client of the gateway (``heroes.client``).

``HeroesClient(url, token)`` talks to the HEROES API as the user the token names; its
``data`` attribute puts and gets files through presigned URLs (multipart, resumable,
checksummed), lists, moves and deletes them; ``apps`` registers applications and pushes their
images. The ``heroes data`` and ``heroes app`` commands are built on it.
"""

from heroes.client._api import GATEWAY_ENV, HeroesClient, gateway_url
from heroes.client._apps import AppsClient
from heroes.client._data import DataClient, Progress
from heroes.client._errors import ApiError

__all__ = ["GATEWAY_ENV", "ApiError", "AppsClient", "DataClient", "HeroesClient", "Progress", "gateway_url"]
