"""What a gateway needs to know: where Prefect is, where it is itself, how long grants live."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.identity.grants import DEFAULT_TTL, MAX_TTL

DEFAULT_PORT: Final = 4300


class GatewaySettings(BaseModel):
    """The gateway's own settings; Keycloak's and the grant key come from their blocks."""

    model_config = ConfigDict(frozen=True)

    prefect_api_url: str = Field(description="The Prefect API the gateway fronts, e.g. "
                                             "http://127.0.0.1:4200/api; nobody else should reach it.")
    public_url: str = Field(default=f"http://127.0.0.1:{DEFAULT_PORT}",
                            description="Where browsers reach the gateway: Keycloak sends them back to "
                                        "<public_url>/auth/callback, and the Prefect UI calls "
                                        "<public_url>/api.")
    grant_ttl: timedelta = Field(default=DEFAULT_TTL, gt=timedelta(0), le=MAX_TTL,
                                 description="How long a grant lets its run start.")
    upstream_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the Prefect API.")

    @field_validator("prefect_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over TLS when the gateway is published over TLS."""
        return self.public_url.startswith("https://")

    @property
    def callback_url(self) -> str:
        """Where Keycloak returns a browser after login."""
        return f"{self.public_url}/auth/callback"


__all__ = ["DEFAULT_PORT", "GatewaySettings"]
