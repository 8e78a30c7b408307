"""Cloud instance prices: snapshot, lookup, AWS/OCI parsing, cache and refresh.

AWS calls go through a real boto3 ``pricing`` client with botocore's Stubber
(the request is validated against the service model; nothing leaves the
machine). OCI calls go through ``httpx.MockTransport``: no Oracle server can run
here, and the transport is httpx's own test implementation of its interface.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber

from heroes_core.costs import cloud_prices
from heroes_core.costs.cloud_prices import (
    InstancePrice,
    PriceCache,
    PriceCacheError,
    PriceFetchError,
    PriceList,
    UnknownPriceError,
    fetch_aws_prices,
    fetch_oci_prices,
    load_snapshot,
)

AWS_TYPES = ["t3.micro", "c5.xlarge", "c5.4xlarge", "m5.2xlarge", "r5.xlarge", "p3.2xlarge", "g4dn.xlarge"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- fixtures in the real APIs' shapes -----------------------------------------------------------

def aws_product(instance_type: str = "c5.xlarge", *, price: str = "0.1700000000", region: str | None = "us-east-1",
                location: str = "US East (N. Virginia)", vcpu: str = "4", memory: str = "8 GiB",
                gpu: str | None = None, operating_system: str = "Linux", operation: str = "RunInstances",
                capacitystatus: str = "Used", sku: str = "ZVYPHM8WZJ8EHM2E") -> str:
    """One entry of get_products' ``PriceList``: a JSON string, as the real API returns it."""
    attributes = {
        "enhancedNetworkingSupported": "Yes", "intelTurboAvailable": "Yes", "memory": memory,
        "dedicatedEbsThroughput": "Up to 2250 Mbps", "vcpu": vcpu, "classicnetworkingsupport": "false",
        "capacitystatus": capacitystatus, "locationType": "AWS Region", "storage": "EBS only",
        "instanceFamily": "Compute optimized", "operatingSystem": operating_system,
        "intelAvx2Available": "Yes", "physicalProcessor": "Intel Xeon Platinum 8124M",
        "clockSpeed": "3.4 GHz", "ecu": "20", "networkPerformance": "Up to 10 Gigabit",
        "servicename": "Amazon Elastic Compute Cloud", "gpuMemory": "NA",
        "vpcnetworkingsupport": "true", "instanceType": instance_type, "tenancy": "Shared",
        "usagetype": f"BoxUsage:{instance_type}", "normalizationSizeFactor": "8",
        "intelAvxAvailable": "Yes", "processorFeatures": "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
        "servicecode": "AmazonEC2", "licenseModel": "No License required", "currentGeneration": "Yes",
        "preInstalledSw": "NA", "location": location, "processorArchitecture": "64-bit",
        "marketoption": "OnDemand", "operation": operation, "availabilityzone": "NA",
    }
    if region is not None:
        attributes["regionCode"] = region
    if gpu is not None:
        attributes["gpu"] = gpu
    term = f"{sku}.JRTCKXETXF"
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {term: {
                "priceDimensions": {f"{term}.6YS6EN2CT7": {
                    "unit": "Hrs", "endRange": "Inf",
                    "description": f"${price} per On Demand Linux {instance_type} Instance Hour",
                    "appliesTo": [], "rateCode": f"{term}.6YS6EN2CT7", "beginRange": "0",
                    "pricePerUnit": {"USD": price}}},
                "sku": sku, "effectiveDate": "2025-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
                "termAttributes": {}}},
            "Reserved": {f"{sku}.4NA7Y494T4": {
                "priceDimensions": {f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                    "unit": "Hrs", "pricePerUnit": {"USD": "0.1080000000"}, "description": "reserved",
                    "appliesTo": [], "rateCode": f"{sku}.4NA7Y494T4.6YS6EN2CT7", "beginRange": "0",
                    "endRange": "Inf"}},
                "sku": sku, "effectiveDate": "2025-11-01T00:00:00Z", "offerTermCode": "4NA7Y494T4",
                "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                                   "PurchaseOption": "No Upfront"}}},
        },
        "version": "20251120183210",
        "publicationDate": "2025-11-20T18:32:10Z",
    })


def expected_request(instance_type: str, field: str, value: str, token: str | None = None) -> dict[str, Any]:
    filters = [{"Type": "TERM_MATCH", "Field": name, "Value": val} for name, val in [
        ("instanceType", instance_type), (field, value), ("operatingSystem", "Linux"),
        ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used")]]
    request: dict[str, Any] = {"ServiceCode": "AmazonEC2", "Filters": filters, "FormatVersion": "aws_v1",
                               "MaxResults": 100}
    if token:
        request["NextToken"] = token
    return request


def page(*products: str, token: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": list(products)}
    if token:
        response["NextToken"] = token
    return response


@pytest.fixture
def pricing() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def oci_item(part: str, name: str, metric: str, value: float, *, category: str = "Compute - Virtual Machine",
             currency: str = "USD") -> dict[str, Any]:
    return {"partNumber": part, "displayName": name, "metricName": metric, "serviceCategory": category,
            "currencyCodeLocalizations": [{"currencyCode": currency, "prices": [
                {"model": "PAY_AS_YOU_GO", "value": value}]}]}


OCI_ITEMS = [
    oci_item("B93113", "Compute - Standard - E4 - OCPU", "OCPU Per Hour", 0.025),
    oci_item("B93114", "Compute - Standard - E4 - Memory", "Gigabyte Per Hour", 0.0015),
    oci_item("B94176", "Compute - Standard - X9 - OCPU", "OCPU Per Hour", 0.04),
    oci_item("B94177", "Compute - Standard - X9 - Memory", "Gigabyte Per Hour", 0.0015),
    oci_item("B95909", "Compute - GPU - A10", "GPU Per Hour", 2),
    oci_item("B91961", "Storage - Block Volume - Storage", "Gigabyte Storage Capacity Per Month", 0.0255,
             category="Storage - Block Volumes"),
    oci_item("B99999", "Compute - Standard - Z42 - OCPU", "OCPU Per Hour", 0.5),  # a shape not mapped
    oci_item("B93115", "Compute - Standard - E4 - Memory", "OCPU Per Hour", 9.0),  # unit disagrees: skip
    {"partNumber": "B88298", "displayName": "Oracle Autonomous Data Warehouse - ECPU",
     "metricName": "ECPU Per Hour", "serviceCategory": "Autonomous Database",
     "currencyCodeLocalizations": [{"currencyCode": "USD", "prices": [
         {"model": "PAY_AS_YOU_GO", "value": 0.336}]}]},
]


def oci_transport(items: list[dict[str, Any]] | None = None, *, status: int = 200,
                  seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if status != 200:
            return httpx.Response(status, text="Service Unavailable")
        return httpx.Response(200, json={"items": items if items is not None else OCI_ITEMS,
                                         "hasMore": False, "count": len(OCI_ITEMS)})
    return httpx.MockTransport(handler)


# -- snapshot and lookup -----------------------------------------------------------------------

def test_snapshot_loads_with_positive_usd_prices_for_every_listed_type() -> None:
    snapshot = load_snapshot()
    assert snapshot.note and "approximate" in snapshot.note.lower()
    assert snapshot.prices and all(p.price_per_hour > 0 and p.currency == "USD" for p in snapshot.prices)
    assert all(p.source == "snapshot" for p in snapshot.prices)
    for region in ("us-east-1", "eu-west-1"):
        for instance_type in AWS_TYPES:
            price = snapshot.lookup("aws", region, instance_type)
            assert price.vcpus and price.memory_gib
    assert snapshot.lookup("aws", "us-east-1", "p3.2xlarge").gpus == 1
    assert snapshot.lookup("aws", "eu-west-1", "g4dn.xlarge").gpus == 1
    for shape in ("VM.Standard.E4.Flex", "VM.Standard3.Flex"):
        assert snapshot.lookup("oci", "global", shape, "ocpu-hour").price_per_hour > 0
        assert snapshot.lookup("oci", "global", shape, "gb-memory-hour").price_per_hour > 0
    assert any(p.provider == "oci" and p.gpus > 0 for p in snapshot.prices)


def test_lookup_hits_and_oci_prices_apply_in_every_region() -> None:
    snapshot = load_snapshot()
    assert snapshot.lookup("aws", "us-east-1", "c5.xlarge").price_per_hour == Decimal("0.17")
    e4 = snapshot.lookup("oci", "eu-frankfurt-1", "VM.Standard.E4.Flex", unit="ocpu-hour")
    assert e4.region == "global" and e4.unit == "ocpu-hour"
    assert snapshot.hourly_price("oci", "eu-frankfurt-1", "VM.Standard.E4.Flex", ocpus=2, memory_gb=16) == (
        2 * e4.price_per_hour + 16 * snapshot.lookup("oci", "global", "VM.Standard.E4.Flex",
                                                     "gb-memory-hour").price_per_hour)
    assert snapshot.hourly_price("aws", "eu-west-1", "r5.xlarge") == snapshot.lookup(
        "aws", "eu-west-1", "r5.xlarge").price_per_hour


def test_lookup_miss_names_provider_region_type_and_how_to_refresh() -> None:
    snapshot = load_snapshot()
    with pytest.raises(UnknownPriceError) as caught:
        snapshot.lookup("aws", "ap-south-1", "c5.9xlarge")
    message = str(caught.value)
    assert "aws" in message and "ap-south-1" in message and "c5.9xlarge" in message
    assert "refresh --regions ap-south-1 --instance-types c5.9xlarge" in message
    assert isinstance(caught.value, KeyError)
    with pytest.raises(KeyError, match=r"VM\.Standard\.E4\.Flex"):  # a flex shape has no instance-hour row
        snapshot.lookup("oci", "us-ashburn-1", "VM.Standard.E4.Flex")
    with pytest.raises(UnknownPriceError, match=r"c5\.xlarge"):
        snapshot.hourly_price("aws", "sa-east-1", "c5.xlarge", ocpus=1, memory_gb=1)


def test_a_price_list_refuses_duplicates_and_bad_prices() -> None:
    row = load_snapshot().prices[0]
    with pytest.raises(ValueError, match="two prices"):
        PriceList(fetched_at=T0, prices=[row, row])
    with pytest.raises(ValueError):
        InstancePrice.model_validate({**row.model_dump(), "price_per_hour": "0"})
    with pytest.raises(ValueError):
        InstancePrice.model_validate({**row.model_dump(), "currency": "DOLLARS"})
    with pytest.raises(ValueError):
        InstancePrice.model_validate({**row.model_dump(), "fetched_at": datetime(2026, 1, 1)})


# -- AWS -----------------------------------------------------------------------------------------

def test_aws_prices_are_parsed_from_the_price_list_json_strings_across_pages(
        pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stubber.add_response("get_products", page(token="tok-2"),
                         expected_request("c5.xlarge", "regionCode", "us-east-1"))
    stubber.add_response("get_products", page(aws_product("c5.xlarge")),
                         expected_request("c5.xlarge", "regionCode", "us-east-1", token="tok-2"))
    stubber.add_response("get_products", page(aws_product("p3.2xlarge", price="3.0600000000", vcpu="8",
                                                          memory="61 GiB", gpu="1", sku="CGJXHFUSGE546RV6")),
                         expected_request("p3.2xlarge", "regionCode", "us-east-1"))
    before = datetime.now(UTC)
    rows = fetch_aws_prices(client, "us-east-1", ["c5.xlarge", "p3.2xlarge"])
    c5, p3 = rows
    assert (c5.provider, c5.region, c5.instance_type, c5.unit) == ("aws", "us-east-1", "c5.xlarge",
                                                                   "instance-hour")
    assert c5.price_per_hour == Decimal("0.17") and c5.currency == "USD" and c5.source == "aws-pricing-api"
    assert (c5.vcpus, c5.memory_gib, c5.gpus) == (4, 8.0, 0)
    assert c5.fetched_at >= before
    assert (p3.price_per_hour, p3.vcpus, p3.memory_gib, p3.gpus) == (Decimal("3.06"), 8, 61.0, 1)


def test_aws_offers_named_only_by_location_are_found_and_foreign_offers_ignored(
        pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stubber.add_response("get_products", page(), expected_request("c5.xlarge", "regionCode", "eu-west-1"))
    stubber.add_response("get_products", page(
        aws_product("c5.xlarge", price="0.1920000000", region=None, location="EU (Ireland)"),
        aws_product("c5.xlarge", price="0.3520000000", region=None, location="EU (Ireland)",
                    operating_system="Windows"),
        aws_product("c5.xlarge", price="0.1700000000", region="us-east-1"),
        aws_product("c5.xlarge", price="0.0000000000", region=None, location="EU (Ireland)",
                    capacitystatus="UnusedCapacityReservation"),
        aws_product("c5.xlarge", price="0.5000000000", region=None, location="EU (Ireland)",
                    operation="RunInstances:0002"),
        aws_product("c5.2xlarge", price="0.3840000000", region=None, location="EU (Ireland)"),
    ), expected_request("c5.xlarge", "location", "EU (Ireland)"))
    (row,) = fetch_aws_prices(client, "eu-west-1", ["c5.xlarge"])
    assert (row.region, row.price_per_hour) == ("eu-west-1", Decimal("0.192"))


def test_aws_types_not_sold_in_a_region_are_left_out(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stubber.add_response("get_products", page(), expected_request("p3.2xlarge", "regionCode", "eu-west-1"))
    stubber.add_response("get_products", page(), expected_request("p3.2xlarge", "location", "EU (Ireland)"))
    assert fetch_aws_prices(client, "eu-west-1", ["p3.2xlarge"]) == []


def test_aws_api_errors_become_a_heroes_error_naming_aws(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stubber.add_client_error("get_products", service_error_code="AccessDeniedException",
                             service_message="not authorized to perform: pricing:GetProducts",
                             http_status_code=400)
    with pytest.raises(PriceFetchError, match=r"\[aws\].*AccessDeniedException.*Fix: check AWS credentials"):
        fetch_aws_prices(client, "us-east-1", ["c5.xlarge"])


# -- OCI -----------------------------------------------------------------------------------------

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


# -- cache and refresh ---------------------------------------------------------------------------

def test_cache_without_a_file_serves_the_snapshot_and_round_trips(tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "sub" / "cloud_prices.json")
    assert cache.load() == load_snapshot()
    custom = PriceList(fetched_at=T0, prices=[p.model_copy(update={"source": "aws-pricing-api"})
                                              for p in load_snapshot().for_provider("aws")],
                       failed={"oci": "it broke"})
    cache.save(custom)
    assert cache.load() == custom
    assert os.listdir(cache.path.parent) == ["cloud_prices.json"]


def test_default_cache_path_follows_heroes_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEROES_HOME", str(tmp_path))
    assert PriceCache().path == tmp_path / "cloud_prices.json"
    monkeypatch.delenv("HEROES_HOME")
    assert cloud_prices.default_cache_path() == Path.home() / ".local/share/heroes/cloud_prices.json"


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    cache.save(load_snapshot())
    before = cache.path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")
    monkeypatch.setattr(cloud_prices.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.save(PriceList(fetched_at=T0))
    assert cache.path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["cloud_prices.json"]  # no temporary file left behind


def test_a_corrupt_cache_is_a_clear_error(tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    cache.path.write_text('{"prices": 3}')
    with pytest.raises(PriceCacheError, match=r"cloud_prices.json is not a price list.*refresh --cache"):
        cache.load()


class FailingClient:
    """A pricing client whose every call fails like an unreachable endpoint."""

    def get_products(self, **kwargs: Any) -> dict[str, Any]:
        raise ConnectionError("Could not connect to the endpoint URL")


def stubbed_aws(pricing: tuple[Any, Stubber]) -> Callable[[], Any]:
    client, stubber = pricing
    for region, price in (("us-east-1", "0.1800000000"), ("eu-west-1", "0.2000000000")):
        stubber.add_response("get_products", page(aws_product("c5.xlarge", price=price, region=region)),
                             expected_request("c5.xlarge", "regionCode", region))
    return lambda: client


def test_refresh_merges_both_providers_and_keeps_rows_it_did_not_fetch(
        tmp_path: Path, pricing: tuple[Any, Stubber]) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    with httpx.Client(transport=oci_transport()) as http:
        result = cache.refresh(stubbed_aws(pricing), http, ["us-east-1", "eu-west-1"], ["c5.xlarge"])
    assert result.failed == {}
    assert cache.load() == result
    assert result.lookup("aws", "us-east-1", "c5.xlarge").price_per_hour == Decimal("0.18")
    assert result.lookup("aws", "us-east-1", "c5.xlarge").source == "aws-pricing-api"
    assert result.lookup("aws", "us-east-1", "t3.micro").source == "snapshot"  # not refreshed, still there
    assert result.lookup("oci", "global", "VM.Standard.E4.Flex", "ocpu-hour").source == "oci-price-list"
    assert len(result.prices) == len(load_snapshot().prices)


def test_refresh_keeps_the_previous_prices_of_a_provider_that_failed(tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    earlier = load_snapshot().model_copy(update={"prices": [
        p.model_copy(update={"source": "aws-pricing-api", "fetched_at": T0}) if p.provider == "aws" else p
        for p in load_snapshot().prices]})
    cache.save(earlier)
    with httpx.Client(transport=oci_transport()) as http:
        result = cache.refresh(FailingClient, http, ["us-east-1"], ["c5.xlarge"])
    assert set(result.failed) == {"aws"} and "Could not connect" in result.failed["aws"]
    assert result.for_provider("aws") == earlier.for_provider("aws")
    assert {p.source for p in result.for_provider("oci")} == {"oci-price-list"}
    assert cache.load() == result

    with httpx.Client(transport=oci_transport(status=500)) as http:
        again = cache.refresh(FailingClient, http, ["us-east-1"], ["c5.xlarge"])
    assert set(again.failed) == {"aws", "oci"}
    assert cache.load() == result  # nothing new: the file is left as it was


def test_refresh_command_prints_what_it_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                pricing: tuple[Any, Stubber]) -> None:
    factory = stubbed_aws(pricing)
    endpoints: list[str | None] = []

    def fake_factory(endpoint_url: str | None) -> Callable[[], Any]:
        endpoints.append(endpoint_url)
        return factory
    monkeypatch.setattr(cloud_prices, "_aws_client_factory", fake_factory)
    real_client = httpx.Client
    monkeypatch.setattr(cloud_prices.httpx, "Client",
                        lambda **kwargs: real_client(transport=oci_transport(), **kwargs))
    cache_path = tmp_path / "prices.json"
    code = cloud_prices.main(["refresh", "--cache", str(cache_path), "--regions", "us-east-1", "eu-west-1",
                              "--instance-types", "c5.xlarge", "--aws-endpoint-url", "http://127.0.0.1:5000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert endpoints == ["http://127.0.0.1:5000"]
    assert "aws: 2 prices fetched" in out and "oci: 5 prices fetched" in out
    assert f"saved {len(load_snapshot().prices)} prices to {cache_path}" in out
    assert PriceCache(cache_path).load().lookup("aws", "eu-west-1", "c5.xlarge").price_per_hour == Decimal("0.2")
