"""On-demand prices of cloud instances (AWS, OCI): fetched, cached, and a shipped snapshot.

Cost estimates must work offline and must never silently lose prices, so there
are three layers:

* a dated snapshot shipped with the package (:func:`load_snapshot`), so a fresh
  install can estimate costs before anything was fetched;
* a JSON cache file (:class:`PriceCache`) that a refresh rewrites atomically;
* fetchers for the providers' public price APIs (:func:`fetch_aws_prices`,
  :func:`fetch_oci_prices`) that take their client as an argument, so tests
  and other endpoints (a moto server, a proxy) can be plugged in.

A refresh merges what it fetched over what it had: a provider that fails keeps
its previous prices (each row carries its own ``fetched_at`` and ``source``, so
staleness stays visible) and is named in :attr:`PriceList.failed`.

Refresh from the command line::

    python -m heroes_core.costs.cloud_prices refresh --cache PATH [--regions ...]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.resources
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from heroes_core.costs.currencies import currency as iso_currency
from heroes_core.errors import HeroesError

Provider = Literal["aws", "oci"]
Unit = Literal["instance-hour", "ocpu-hour", "gb-memory-hour"]
PROVIDERS: tuple[Provider, ...] = ("aws", "oci")

GLOBAL_REGION = "global"
"""Region of prices that are the same everywhere (OCI publishes one price list for all regions)."""

OCI_PRICE_LIST_URL = "https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/"
AWS_PRICING_API_REGION = "us-east-1"
"""The Price List API only answers in a few regions (us-east-1, eu-central-1, ap-south-1)."""

SNAPSHOT_RESOURCE = "data/cloud_prices_snapshot.json"
REFRESH_COMMAND = "python -m heroes_core.costs.cloud_prices refresh"


class UnknownPriceError(HeroesError, KeyError):
    """No price for a provider/region/instance type in the price list at hand."""

    def __str__(self) -> str:  # KeyError would print the message as a quoted repr
        return str(self.args[0]) if self.args else ""


class PriceFetchError(HeroesError):
    """A provider's price API could not be read or answered something unusable."""


class PriceCacheError(HeroesError):
    """The price cache file is unreadable or not a price list."""


def _now() -> datetime:
    return datetime.now(UTC)


class InstancePrice(BaseModel):
    """The on-demand price of one unit of one instance type in one region.

    AWS sells whole instances (``unit="instance-hour"``). OCI flex shapes are
    sold per resource, so one shape has two rows: ``"ocpu-hour"`` and
    ``"gb-memory-hour"``; an instance costs ``ocpus * p_ocpu + gb * p_gb``.
    ``vcpus``/``memory_gib`` describe a whole instance and stay ``None`` on
    per-resource rows.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    region: str = Field(min_length=1, description=f"Provider region, or {GLOBAL_REGION!r}.")
    instance_type: str = Field(min_length=1, description="AWS instance type or OCI shape.")
    unit: Unit = "instance-hour"
    vcpus: int | None = Field(default=None, ge=1)
    memory_gib: float | None = Field(default=None, gt=0)
    gpus: int = Field(default=0, ge=0)
    price_per_hour: Decimal = Field(gt=0, description="Price of one unit for one hour.")
    currency: str = "USD"
    fetched_at: AwareDatetime
    source: str = Field(min_length=1, description="'aws-pricing-api', 'oci-price-list' or 'snapshot'.")

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        return iso_currency(value)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.provider, self.region, self.instance_type, self.unit)


class PriceList(BaseModel):
    """A set of instance prices, at most one per provider/region/type/unit."""

    model_config = ConfigDict(extra="forbid")

    fetched_at: AwareDatetime
    prices: list[InstancePrice] = Field(default_factory=list)
    note: str = ""
    failed: dict[Provider, str] = Field(
        default_factory=dict,
        description="Providers whose last refresh failed (their earlier prices were kept), with why.")

    @field_validator("prices")
    @classmethod
    def _unique(cls, value: list[InstancePrice]) -> list[InstancePrice]:
        seen: set[tuple[str, str, str, str]] = set()
        for price in value:
            if price.key in seen:
                raise ValueError(f"two prices for {'/'.join(price.key)}")
            seen.add(price.key)
        return value

    def for_provider(self, provider: Provider) -> list[InstancePrice]:
        return [price for price in self.prices if price.provider == provider]

    def lookup(self, provider: Provider, region: str, instance_type: str,
               unit: Unit = "instance-hour") -> InstancePrice:
        """The price of ``instance_type`` in ``region``; a region-independent price also matches."""
        for wanted_region in (region, GLOBAL_REGION):
            for price in self.prices:
                if price.key == (provider, wanted_region, instance_type, unit):
                    return price
        known = sorted({p.instance_type for p in self.prices
                        if p.provider == provider and p.region in (region, GLOBAL_REGION)})
        listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "") if known else "none"
        refresh = (f"{REFRESH_COMMAND} --regions {region} --instance-types {instance_type}"
                   if provider == "aws" else REFRESH_COMMAND)
        raise UnknownPriceError(
            f"no {provider} price for {instance_type} ({unit}) in region {region} in the price list "
            f"fetched {self.fetched_at:%Y-%m-%d}; {provider} types priced there: {listed}",
            fix=f"check the name, or refresh the prices: {refresh}")

    def hourly_price(self, provider: Provider, region: str, instance_type: str, *,
                     ocpus: float | None = None, memory_gb: float | None = None) -> Decimal:
        """What one instance costs per hour; flex shapes need their ``ocpus`` and ``memory_gb``."""
        try:
            return self.lookup(provider, region, instance_type).price_per_hour
        except UnknownPriceError:
            if ocpus is None or memory_gb is None:
                raise
        ocpu = self.lookup(provider, region, instance_type, "ocpu-hour").price_per_hour
        memory = self.lookup(provider, region, instance_type, "gb-memory-hour").price_per_hour
        return ocpu * Decimal(str(ocpus)) + memory * Decimal(str(memory_gb))


def merge(old: PriceList, new_prices: Iterable[InstancePrice], *, fetched_at: datetime,
          failed: Mapping[Provider, str]) -> PriceList:
    """``old`` updated with ``new_prices``: rows not fetched again are kept, never dropped."""
    rows = {price.key: price for price in old.prices}
    rows.update((price.key, price) for price in new_prices)
    kept_snapshot = any(price.source == "snapshot" for price in rows.values())
    return PriceList(fetched_at=fetched_at, prices=sorted(rows.values(), key=lambda p: p.key),
                     note=old.note if kept_snapshot else "", failed=dict(failed))


# -- AWS ---------------------------------------------------------------------------------------

class PricingClient(Protocol):
    """The one method of a boto3 ``pricing`` client that is used here."""

    def get_products(self, **kwargs: Any) -> Mapping[str, Any]: ...


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


def _number(text: object) -> float | None:
    """``"8"`` -> 8.0, ``"0.5 GiB"`` -> 0.5, ``"1,952 GiB"`` -> 1952.0, ``"NA"`` -> None."""
    if not isinstance(text, str | int | float):
        return None
    head = str(text).replace(",", "").split(" ")[0]
    try:
        return float(head)
    except ValueError:
        return None


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
    vcpus = _number(attributes.get("vcpu"))
    gpus = _number(attributes.get("gpu"))
    return InstancePrice(provider="aws", region=region, instance_type=instance_type,
                         unit="instance-hour", vcpus=int(vcpus) if vcpus else None,
                         memory_gib=_number(attributes.get("memory")) or None,
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
    fetched_at = _now()
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


# -- OCI ---------------------------------------------------------------------------------------

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
                tiers.append((_number(entry.get("rangeMin")) or 0.0, value))
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
    fetched_at = _now()
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
                                  "heroes_core.costs.cloud_prices.fetch_oci_prices")
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
                              "OCI_FLEX_SHAPES / OCI_GPU_SHAPES in heroes_core.costs.cloud_prices")
    return list(prices.values())


# -- snapshot and cache ------------------------------------------------------------------------

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
        result = merge(old, fetched, fetched_at=_now(), failed=failed)
        if len(failed) < len(fetchers):
            self.save(result)
        return result


# -- command line ------------------------------------------------------------------------------

def _aws_client_factory(endpoint_url: str | None) -> Callable[[], PricingClient]:
    def create() -> PricingClient:
        boto3 = importlib.import_module("boto3")  # untyped; imported where it is needed
        client: PricingClient = boto3.client("pricing", region_name=AWS_PRICING_API_REGION,
                                             endpoint_url=endpoint_url)
        return client
    return create


def main(argv: Sequence[str] | None = None) -> int:
    """``refresh``: fetch current prices into the cache and say what was fetched."""
    snapshot = load_snapshot()
    snapshot_aws = snapshot.for_provider("aws")
    parser = argparse.ArgumentParser(prog="python -m heroes_core.costs.cloud_prices",
                                     description="Cloud on-demand instance prices for HEROES.")
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser("refresh", help="fetch AWS and OCI prices into the cache")
    refresh.add_argument("--cache", type=Path, default=default_cache_path(),
                         help="cache file (default: %(default)s)")
    refresh.add_argument("--regions", nargs="+",
                         default=sorted({p.region for p in snapshot_aws}), help="AWS regions")
    refresh.add_argument("--instance-types", nargs="+",
                         default=sorted({p.instance_type for p in snapshot_aws}), help="AWS types")
    refresh.add_argument("--aws-endpoint-url", default=None,
                         help="Price List API endpoint (e.g. a moto server); default: AWS's")
    refresh.add_argument("--oci-url", default=OCI_PRICE_LIST_URL, help="OCI price list URL")
    refresh.add_argument("--currency", default="USD", help="OCI currency (default: %(default)s)")
    args = parser.parse_args(argv)

    cache = PriceCache(args.cache)
    try:
        before = {provider: len(cache.load().for_provider(provider)) for provider in PROVIDERS}
    except PriceCacheError:
        before = {provider: 0 for provider in PROVIDERS}
    started = _now()
    with httpx.Client(follow_redirects=True) as http:
        result = cache.refresh(_aws_client_factory(args.aws_endpoint_url), http, args.regions,
                               args.instance_types, oci_url=args.oci_url, currency=args.currency)
    for provider in PROVIDERS:
        if provider in result.failed:
            print(f"{provider}: FAILED, kept {before[provider]} earlier prices: "
                  f"{result.failed[provider]}", file=sys.stderr)
        else:
            fresh = sum(1 for p in result.for_provider(provider) if p.fetched_at >= started)
            print(f"{provider}: {fresh} prices fetched")
    if len(result.failed) == len(PROVIDERS):
        print(f"error: no provider's prices could be fetched; {cache.path} was left unchanged. "
              "Fix: check the network and AWS credentials, then run the refresh again.",
              file=sys.stderr)
        return 1
    print(f"saved {len(result.prices)} prices to {cache.path} "
          f"(fetched {result.fetched_at:%Y-%m-%d %H:%M} UTC)")
    return 0

