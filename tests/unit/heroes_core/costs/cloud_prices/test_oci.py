"""OCI price list parsing through ``httpx.MockTransport``."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from heroes_core.costs.cloud_prices import PriceFetchError, fetch_oci_prices
from tests.unit.heroes_core.costs.cloud_prices.samples import OCI_ITEMS, oci_item, oci_transport


def test_oci_price_list_is_parsed_into_per_ocpu_per_gb_and_gpu_rows() -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(transport=oci_transport(seen=seen)) as http:
        rows = {(p.instance_type, p.unit): p for p in fetch_oci_prices(http)}
    assert seen[0].url.params["currencyCode"] == "USD"
    assert str(seen[0].url).startswith("https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/")
    assert set(rows) == {("VM.Standard.E4.Flex", "ocpu-hour"), ("VM.Standard.E4.Flex", "gb-memory-hour"),
                         ("VM.Standard3.Flex", "ocpu-hour"), ("VM.Standard3.Flex", "gb-memory-hour"),
                         ("VM.GPU.A10.1", "instance-hour")}
    assert rows["VM.Standard.E4.Flex", "ocpu-hour"].price_per_hour == Decimal("0.025")
    assert rows["VM.Standard.E4.Flex", "gb-memory-hour"].price_per_hour == Decimal("0.0015")
    assert rows["VM.Standard3.Flex", "ocpu-hour"].price_per_hour == Decimal("0.04")
    gpu = rows["VM.GPU.A10.1", "instance-hour"]
    assert (gpu.gpus, gpu.price_per_hour) == (1, Decimal("2"))
    assert all(p.provider == "oci" and p.region == "global" and p.source == "oci-price-list"
               and p.currency == "USD" for p in rows.values())


def test_oci_pages_are_followed_and_other_currencies_ignored() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("offset") == "2":
            return httpx.Response(200, json={"items": OCI_ITEMS[2:4], "hasMore": False})
        return httpx.Response(200, json={
            "items": [OCI_ITEMS[0], oci_item("B93113", "Compute - Standard - E4 - Memory", "Gigabyte Per Hour",
                                             0.0013, currency="EUR"), OCI_ITEMS[1]],
            "hasMore": True, "links": [{"rel": "self", "href": str(request.url)},
                                       {"rel": "next", "href": f"{request.url.copy_with(query=None)}?offset=2"}]})
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        rows = {(p.instance_type, p.unit): p.price_per_hour for p in fetch_oci_prices(http)}
    assert rows[("VM.Standard.E4.Flex", "gb-memory-hour")] == Decimal("0.0015")
    assert ("VM.Standard3.Flex", "ocpu-hour") in rows


@pytest.mark.parametrize(("transport", "match"), [
    (oci_transport(status=503), "could not be read"),
    (oci_transport(items=[OCI_ITEMS[5]]), "no compute shape"),
    (httpx.MockTransport(lambda request: httpx.Response(200, json={"products": []})), "no 'items' list"),
    (httpx.MockTransport(lambda request: httpx.Response(200, text="<html>maintenance</html>")),
     "could not be read"),
])
def test_oci_failures_are_heroes_errors_naming_oci(transport: httpx.MockTransport, match: str) -> None:
    with httpx.Client(transport=transport) as http, pytest.raises(PriceFetchError, match=match) as caught:
        fetch_oci_prices(http)
    assert caught.value.site == "oci" and caught.value.fix
