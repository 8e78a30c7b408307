"""Where price lists live between refreshes: a JSON cache file over a snapshot shipped with HEROES.

Cost estimates must work offline and must never silently lose prices. The
snapshot lets a fresh install estimate before anything was fetched; the cache
is rewritten atomically; a refresh merges what it fetched over what it had, so
a provider that fails keeps its previous prices (each row carries its own
``fetched_at`` and ``source``, so staleness stays visible) and is named in
:attr:`PriceList.failed`. The refresh lives here, not in the clients, because
that merge-then-save is the cache's promise.
"""

from __future__ import annotations

import importlib.resources
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from pydantic import ValidationError

from heroes_core.costs.cloud_prices.aws import PricingClient, fetch_aws_prices
from heroes_core.costs.cloud_prices.errors import PriceCacheError
from heroes_core.costs.cloud_prices.model import (
    REFRESH_COMMAND,
    InstancePrice,
    PriceList,
    Provider,
    merge,
    now,
)
from heroes_core.costs.cloud_prices.oci import OCI_PRICE_LIST_URL, fetch_oci_prices

SNAPSHOT_RESOURCE = "data/cloud_prices_snapshot.json"
"""Relative to the ``heroes_core.costs`` package, which ships it as package data."""


def load_snapshot() -> PriceList:
    """The dated price list shipped with HEROES (approximate; refresh for current prices)."""
    text = importlib.resources.files("heroes_core.costs").joinpath(SNAPSHOT_RESOURCE).read_text()
    return PriceList.model_validate_json(text)


def default_cache_path() -> Path:
    """``${HEROES_HOME:-~/.local/share/heroes}/cloud_prices.json``."""
    home = os.environ.get("HEROES_HOME") or str(Path("~/.local/share/heroes").expanduser())
    return Path(home) / "cloud_prices.json"


class PriceCache:
    """A price list in a JSON file; the shipped snapshot stands in until the first refresh."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()

    def load(self) -> PriceList:
        """The cached list, or the snapshot if nothing is cached yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return load_snapshot()
        except OSError as exc:
            raise PriceCacheError(f"the price cache {self.path} cannot be read: {exc}",
                                  fix="check the file's permissions") from exc
        try:
            return PriceList.model_validate_json(text)
        except ValidationError as exc:
            raise PriceCacheError(f"the price cache {self.path} is not a price list: "
                                  f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}",
                                  fix=f"rewrite it with {REFRESH_COMMAND} --cache {self.path}") from exc

    def save(self, price_list: PriceList) -> None:
        """Write atomically: a temporary file in the same directory renamed over the old one.

        Readers (other flows, another refresh) see the old list or the new one,
        never half a file, even if this process dies mid-write.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                        suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(price_list.model_dump_json(indent=1) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def refresh(self, aws_client_factory: Callable[[], PricingClient], http_client: httpx.Client,
                regions: Sequence[str], instance_types: Sequence[str], *,
                oci_url: str = OCI_PRICE_LIST_URL, currency: str = "USD") -> PriceList:
        """Fetch both providers, merge over the cached list, save, and return the result.

        ``regions`` and ``instance_types`` are AWS's (OCI's list is global and
        small, so all of it is read). A provider that fails (or returns nothing)
        keeps its previous prices and is named with the reason in
        :attr:`PriceList.failed`; if both fail nothing is written.
        """
        try:
            old = self.load()
        except PriceCacheError:
            old = load_snapshot()  # the corrupt file is replaced by this refresh
        fetched: list[InstancePrice] = []
        failed: dict[Provider, str] = {}

        def aws() -> list[InstancePrice]:
            client = aws_client_factory()
            return [price for region in dict.fromkeys(regions)
                    for price in fetch_aws_prices(client, region, instance_types)]

        def oci() -> list[InstancePrice]:
            return fetch_oci_prices(http_client, currency, url=oci_url)

        fetchers: dict[Provider, Callable[[], list[InstancePrice]]] = {"aws": aws, "oci": oci}
        for provider, fetch in fetchers.items():
            try:
                rows = fetch()
            except Exception as exc:  # one provider's failure must not lose the other's prices
                failed[provider] = str(exc) or type(exc).__name__
                continue
            if not rows:
                failed[provider] = f"{provider} returned no prices"
                continue
            fetched.extend(rows)
        result = merge(old, fetched, fetched_at=now(), failed=failed)
        if len(failed) < len(fetchers):
            self.save(result)
        return result
