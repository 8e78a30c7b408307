"""Price API answers in the real APIs' shapes, shared by the client, cache and command tests.

AWS answers are fed through a real boto3 ``pricing`` client with botocore's
Stubber (the request is validated against the service model; nothing leaves the
machine). OCI answers go through ``httpx.MockTransport``: no Oracle server can
run here, and the transport is httpx's own test implementation of its interface.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from botocore.stub import Stubber

T0 = datetime(2026, 1, 1, tzinfo=UTC)


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
