"""On-demand prices of cloud instances (AWS, OCI): fetched, cached, and a shipped snapshot.

Cost estimates must work offline and must never silently lose prices, so there
are three layers:

* a dated snapshot shipped with the package (:func:`load_snapshot`), so a fresh
  install can estimate costs before anything was fetched;
* a JSON cache file (:class:`PriceCache`) that a refresh rewrites atomically;
* fetchers for the providers' public price APIs (:func:`fetch_aws_prices`,
  :func:`fetch_oci_prices`) that take their client as an argument, so tests
  and other endpoints (a moto server, a proxy) can be plugged in.

One module per concern, each importing only those listed before it:
``errors``, ``model`` (rows, lists, merge), ``aws`` and ``oci`` (one client per
provider), ``cache`` (snapshot, file, refresh), ``cli``. Import from here.

Refresh from the command line::

    python -m heroes_core.costs.cloud_prices refresh --cache PATH [--regions ...]
"""

from heroes_core.costs.cloud_prices.aws import (
    AWS_FIXED_ATTRIBUTES,
    AWS_LOCATIONS,
    AWS_PRICING_API_REGION,
    PricingClient,
    fetch_aws_prices,
    parse_aws_product,
    pricing_client_factory,
)
from heroes_core.costs.cloud_prices.cache import (
    SNAPSHOT_RESOURCE,
    PriceCache,
    default_cache_path,
    load_snapshot,
)
from heroes_core.costs.cloud_prices.cli import main
from heroes_core.costs.cloud_prices.errors import PriceCacheError, PriceFetchError, UnknownPriceError
from heroes_core.costs.cloud_prices.model import (
    GLOBAL_REGION,
    PROVIDERS,
    REFRESH_COMMAND,
    InstancePrice,
    PriceList,
    Provider,
    Unit,
    merge,
)
from heroes_core.costs.cloud_prices.oci import (
    OCI_FLEX_SHAPES,
    OCI_GPU_SHAPES,
    OCI_PRICE_LIST_URL,
    fetch_oci_prices,
    parse_oci_item,
)

__all__ = [
    "AWS_FIXED_ATTRIBUTES",
    "AWS_LOCATIONS",
    "AWS_PRICING_API_REGION",
    "GLOBAL_REGION",
    "OCI_FLEX_SHAPES",
    "OCI_GPU_SHAPES",
    "OCI_PRICE_LIST_URL",
    "PROVIDERS",
    "REFRESH_COMMAND",
    "SNAPSHOT_RESOURCE",
    "InstancePrice",
    "PriceCache",
    "PriceCacheError",
    "PriceFetchError",
    "PriceList",
    "PricingClient",
    "Provider",
    "Unit",
    "UnknownPriceError",
    "default_cache_path",
    "fetch_aws_prices",
    "fetch_oci_prices",
    "load_snapshot",
    "main",
    "merge",
    "parse_aws_product",
    "parse_oci_item",
    "pricing_client_factory",
]
