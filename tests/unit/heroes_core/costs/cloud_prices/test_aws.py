"""AWS price fetching through a real boto3 ``pricing`` client stubbed by botocore."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.stub import Stubber

from heroes_core.costs.cloud_prices import PriceFetchError, fetch_aws_prices
from tests.unit.heroes_core.costs.cloud_prices.samples import aws_product, expected_request, page


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
