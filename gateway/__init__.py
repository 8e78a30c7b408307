"""The HEROES gateway: the one door for users, scripts and the Prefect UI.

``heroes gateway`` serves :func:`create_app`: the HEROES API (``/v1``, OpenAPI at
``/openapi.json``), the browser login through Keycloak, and the Prefect UI and API behind
it, cut down to the caller's organisation. Every run it launches carries a grant
(:mod:`heroes_core.identity.grants`) and owner tags (:mod:`heroes.gateway.ownership`).
"""

from heroes.gateway.app import REQUEST_LOG, create_app, serve
from heroes.gateway.settings import DEFAULT_PORT, GatewaySettings

__all__ = ["DEFAULT_PORT", "REQUEST_LOG", "GatewaySettings", "create_app", "serve"]
