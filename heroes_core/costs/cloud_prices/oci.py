"""OCI prices from Oracle's public price list (plain HTTPS, no SDK or account needed).

The fetcher takes its ``httpx.Client`` as an argument, so tests (httpx's
``MockTransport``) and other endpoints can be plugged in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from heroes_core.costs.cloud_prices.errors import PriceFetchError
from heroes_core.costs.cloud_prices.model import GLOBAL_REGION, InstancePrice, Unit, leading_number, now

OCI_PRICE_LIST_URL = "https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/"

# Price list display names ("Compute - <family> - <processor> - OCPU|Memory") -> flex shape.
OCI_FLEX_SHAPES: dict[tuple[str, str], str] = {
    ("Standard", "E3"): "VM.Standard.E3.Flex",
    ("Standard", "E4"): "VM.Standard.E4.Flex",
    ("Standard", "E5"): "VM.Standard.E5.Flex",
    ("Standard", "E6"): "VM.Standard.E6.Flex",
    ("Standard", "X9"): "VM.Standard3.Flex",
    ("Standard", "A1"): "VM.Standard.A1.Flex",
    ("Standard", "A2"): "VM.Standard.A2.Flex",
    ("Optimized", "X9"): "VM.Optimized3.Flex",
}
# GPU parts are priced per GPU-hour, OCPUs and memory included: the one-GPU VM shape of each
# (shape, gpus, vcpus, memory GiB) is listed, so its per-GPU price is its instance price.
OCI_GPU_SHAPES: dict[str, tuple[str, int, int, float]] = {
    "Compute - GPU - A10": ("VM.GPU.A10.1", 1, 30, 240.0),
    "Compute - GPU Standard - V100": ("VM.GPU3.1", 1, 12, 90.0),
    "Compute - GPU Standard - P100": ("VM.GPU2.1", 1, 24, 72.0),
}


def _oci_payg_price(item: Mapping[str, Any], currency: str) -> Decimal | None:
    """The pay-as-you-go price in ``currency``: the lowest positive tier's value."""
    tiers: list[tuple[float, Decimal]] = []
    localizations = item.get("currencyCodeLocalizations") or []
    for localization in localizations:
        code = localization.get("currencyCode")
        if code is not None and code != currency:
            continue
        if code is None and len(localizations) > 1:
            continue
        for entry in localization.get("prices") or []:
            if entry.get("model", "PAY_AS_YOU_GO") != "PAY_AS_YOU_GO":
                continue
            try:
                value = Decimal(str(entry["value"]))
            except (KeyError, InvalidOperation):
                continue
            if value > 0:
                tiers.append((leading_number(entry.get("rangeMin")) or 0.0, value))
    return min(tiers, key=lambda tier: tier[0])[1] if tiers else None


def parse_oci_item(item: Mapping[str, Any], *, currency: str,
                   fetched_at: datetime) -> InstancePrice | None:
    """One ``items[]`` entry of Oracle's price list as a price, or None if not a known shape.

    The unit is read from the display name and must agree with ``metricName``;
    an item that disagrees is skipped rather than priced in the wrong unit.
    """
    name = " ".join(str(item.get("displayName", "")).split())
    metric = str(item.get("metricName", "")).lower()
    common = {"provider": "oci", "region": GLOBAL_REGION, "currency": currency,
              "fetched_at": fetched_at, "source": "oci-price-list"}
    if name in OCI_GPU_SHAPES:
        if "gpu" not in metric:
            return None
        shape, gpus, vcpus, memory = OCI_GPU_SHAPES[name]
        price = _oci_payg_price(item, currency)
        return None if price is None else InstancePrice.model_validate(
            {**common, "instance_type": shape, "unit": "instance-hour", "gpus": gpus, "vcpus": vcpus,
             "memory_gib": memory, "price_per_hour": price * gpus})
    parts = [part.strip() for part in name.split(" - ")]
    if len(parts) != 4 or parts[0] != "Compute":
        return None
    shape_name = OCI_FLEX_SHAPES.get((parts[1], parts[2]))
    unit: Unit
    if parts[3] == "OCPU" and "ocpu" in metric:
        unit = "ocpu-hour"
    elif parts[3] == "Memory" and ("gigabyte" in metric or "gb" in metric.split()):
        unit = "gb-memory-hour"
    else:
        return None
    price = _oci_payg_price(item, currency)
    if shape_name is None or price is None:
        return None
    return InstancePrice.model_validate({**common, "instance_type": shape_name, "unit": unit,
                                         "price_per_hour": price})


def fetch_oci_prices(http: httpx.Client, currency: str = "USD", *,
                     url: str = OCI_PRICE_LIST_URL, max_pages: int = 50) -> list[InstancePrice]:
    """Flex-shape (per OCPU and per GB of memory) and GPU prices from Oracle's public price list.

    ``GET {url}?currencyCode=USD`` answers ``{"items": [...]}``; when it pages
    (``hasMore`` with a ``links[rel=next]``) the pages are followed. OCI prices
    are the same in every region, so rows carry the region ``"global"``.
    """
    fetched_at = now()
    prices: dict[tuple[str, str, str, str], InstancePrice] = {}
    next_url: str | None = url
    params: dict[str, str] | None = {"currencyCode": currency}
    pages = 0
    while next_url and pages < max_pages:
        pages += 1
        try:
            response = http.get(next_url, params=params, timeout=60.0)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PriceFetchError(f"the OCI price list at {next_url} could not be read: {exc}",
                                  site="oci", fix="check the network path to apexapps.oracle.com "
                                  "(or --oci-url) and retry the refresh") from exc
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise PriceFetchError(f"the OCI price list at {next_url} has no 'items' list",
                                  site="oci", fix="Oracle changed the price list format: update "
                                  "heroes_core.costs.cloud_prices.oci.fetch_oci_prices")
        for item in items:
            if isinstance(item, dict) and (price := parse_oci_item(item, currency=currency,
                                                                   fetched_at=fetched_at)):
                prices.setdefault(price.key, price)
        links = body.get("links") or []
        next_url = next((link.get("href") for link in links if isinstance(link, dict)
                         and link.get("rel") == "next"), None) if body.get("hasMore") else None
        params = None  # a "next" link carries its own query
    if not prices:
        raise PriceFetchError(f"the OCI price list at {url} lists no compute shape HEROES knows",
                              site="oci", fix="Oracle may have renamed its parts: update "
                              "OCI_FLEX_SHAPES / OCI_GPU_SHAPES in heroes_core.costs.cloud_prices.oci")
    return list(prices.values())
