"""AWS on-demand prices from the Price List API (a boto3 ``pricing`` client).

The fetcher takes its client as an argument, so tests and other endpoints (a
moto server, a proxy) can be plugged in; :func:`pricing_client_factory` builds
the real one.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from heroes_core.costs.cloud_prices.errors import PriceFetchError
from heroes_core.costs.cloud_prices.model import InstancePrice, leading_number, now

AWS_PRICING_API_REGION = "us-east-1"
"""The Price List API only answers in a few regions (us-east-1, eu-central-1, ap-south-1)."""


class PricingClient(Protocol):
    """The one method of a boto3 ``pricing`` client that is used here."""

    def get_products(self, **kwargs: Any) -> Mapping[str, Any]: ...


def pricing_client_factory(endpoint_url: str | None) -> Callable[[], PricingClient]:
    """A boto3 ``pricing`` client maker for :meth:`PriceCache.refresh`.

    The refresh calls it inside its AWS step, so a client that cannot be made
    (boto3 missing, a bad endpoint) fails AWS alone and OCI's prices still refresh.
    """
    def create() -> PricingClient:
        boto3 = importlib.import_module("boto3")  # untyped; imported where it is needed
        client: PricingClient = boto3.client("pricing", region_name=AWS_PRICING_API_REGION,
                                             endpoint_url=endpoint_url)
        return client
    return create


# The Price List API names regions by a display name in ``location``; newer offers also
# carry ``regionCode``. Used to filter and parse offers that lack ``regionCode``.
AWS_LOCATIONS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}
_AWS_REGION_OF_LOCATION = {location: region for region, location in AWS_LOCATIONS.items()}

# Plain on-demand Linux on shared hardware, as it runs (not a capacity reservation).
AWS_FIXED_ATTRIBUTES = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
}


def _aws_filters(instance_type: str, region_field: str, region_value: str) -> list[dict[str, str]]:
    terms = {"instanceType": instance_type, region_field: region_value, **AWS_FIXED_ATTRIBUTES}
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in terms.items()]


def _aws_products(client: PricingClient, filters: list[dict[str, str]]) -> Iterator[Any]:
    """Every product matching ``filters``, following ``NextToken`` (works with any client)."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"ServiceCode": "AmazonEC2", "Filters": filters,
                                  "FormatVersion": "aws_v1", "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        try:
            page = client.get_products(**kwargs)
        except Exception as exc:  # botocore is untyped; any failure of the call is the API's
            endpoint = getattr(getattr(client, "meta", None), "endpoint_url", "the AWS Price List API")
            raise PriceFetchError(
                f"AWS pricing get_products at {endpoint} failed: {type(exc).__name__}: {exc}",
                site="aws",
                fix="check AWS credentials (pricing:GetProducts) and --aws-endpoint-url") from exc
        for item in page.get("PriceList") or []:
            yield json.loads(item) if isinstance(item, str | bytes) else item
        token = page.get("NextToken")
        if not token:
            return


def _aws_hourly_usd(terms: object) -> Decimal | None:
    """The hourly USD price in ``terms.OnDemand.*.priceDimensions.*``; None when absent or zero."""
    if not isinstance(terms, dict):
        return None
    prices = []
    for term in (terms.get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if str(dimension.get("unit", "")).lower() not in ("hrs", "hours", "hour"):
                continue
            try:
                value = Decimal(str((dimension.get("pricePerUnit") or {})["USD"]))
            except (KeyError, InvalidOperation):
                continue
            if value > 0:
                prices.append(value)
    return max(prices) if prices else None


def parse_aws_product(product: Mapping[str, Any], *, region: str, instance_type: str,
                      fetched_at: datetime) -> InstancePrice | None:
    """One ``PriceList`` entry of ``get_products`` as a price, or None if it is not what was asked.

    The attributes are checked again here, not only in the request filters, so an
    endpoint that ignores filters (or an offer that names its region only by
    ``location``) cannot slip a Windows or reserved-capacity price in.
    """
    attributes = (product.get("product") or {}).get("attributes") or {}
    if attributes.get("instanceType") != instance_type:
        return None
    found_region = attributes.get("regionCode") or _AWS_REGION_OF_LOCATION.get(attributes.get("location", ""))
    if found_region is not None and found_region != region:
        return None
    for name, wanted in AWS_FIXED_ATTRIBUTES.items():
        if name in attributes and attributes[name] != wanted:
            return None
    if attributes.get("operation", "RunInstances") != "RunInstances":
        return None
    price = _aws_hourly_usd(product.get("terms"))
    if price is None:
        return None
    vcpus = leading_number(attributes.get("vcpu"))
    gpus = leading_number(attributes.get("gpu"))
    return InstancePrice(provider="aws", region=region, instance_type=instance_type,
                         unit="instance-hour", vcpus=int(vcpus) if vcpus else None,
                         memory_gib=leading_number(attributes.get("memory")) or None,
                         gpus=int(gpus) if gpus else 0, price_per_hour=price, currency="USD",
                         fetched_at=fetched_at, source="aws-pricing-api")


def fetch_aws_prices(client: PricingClient, region: str,
                     instance_types: Sequence[str]) -> list[InstancePrice]:
    """On-demand Linux prices of ``instance_types`` in ``region`` from the AWS Price List API.

    ``client`` is a boto3 ``pricing`` client (created in us-east-1; point it
    elsewhere with ``endpoint_url``). Offers are filtered on ``regionCode``;
    when that finds nothing, again on the older ``location`` display name.
    Types not sold in the region are left out; if several offers match, the
    highest price wins, because a budget should err on the expensive side.
    """
    fetched_at = now()
    prices: list[InstancePrice] = []
    for instance_type in dict.fromkeys(instance_types):
        searches = [("regionCode", region)]
        if region in AWS_LOCATIONS:
            searches.append(("location", AWS_LOCATIONS[region]))
        for field, value in searches:
            found = [price for product in _aws_products(client, _aws_filters(instance_type, field, value))
                     if (price := parse_aws_product(product, region=region, instance_type=instance_type,
                                                    fetched_at=fetched_at)) is not None]
            if found:
                prices.append(max(found, key=lambda p: p.price_per_hour))
                break
    return prices
