"""One authenticated connection to the gateway, and its errors in HEROES' words."""

from __future__ import annotations

import os
from typing import Any, Final

import httpx

from heroes.client._apps import AppsClient
from heroes.client._data import DataClient
from heroes.client._errors import ApiError
from heroes.client._runs import RunsClient

GATEWAY_ENV: Final = "HEROES_GATEWAY_URL"
DEFAULT_URL: Final = "http://127.0.0.1:4300"


def gateway_url(given: str | None = None) -> str:
    """``given``, else ``$HEROES_GATEWAY_URL``, else the local gateway; checked to be an http(s) URL."""
    url = given or os.environ.get(GATEWAY_ENV) or DEFAULT_URL
    parts = url.split("/")
    if not url.startswith(("http://", "https://")) or len(parts) < 3 or not parts[2]:
        raise ValueError(f"{url!r} is not the gateway's http(s) URL")
    return url.rstrip("/")


class HeroesClient:
    """The HEROES API for the user ``token`` belongs to."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = gateway_url(url)
        self.http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                 headers={"Authorization": f"Bearer {token}"})
        self.data = DataClient(self)
        self.apps = AppsClient(self)
        self.runs = RunsClient(self)

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
             expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        """One request; the answer's JSON, or :class:`ApiError` with the gateway's own words."""
        try:
            response = self.http.request(method, path, json=json, params=params)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise ApiError(0, f"the gateway at {self.url} could not be reached ({type(error).__name__}: "
                              f"{error})") from error
        if response.status_code not in expect:
            try:
                detail = str(response.json().get("detail", response.text))
            except (ValueError, AttributeError):
                detail = response.text[:500]
            raise ApiError(response.status_code, detail)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ApiError(response.status_code, f"the gateway at {self.url} answered {response.status_code} "
                                                 f"with {response.text[:200]!r}, not JSON: is it a HEROES "
                                                 "gateway?") from error

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HeroesClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
