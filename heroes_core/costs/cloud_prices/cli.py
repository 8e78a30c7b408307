"""``python -m heroes_core.costs.cloud_prices refresh``: fetch current prices into the cache.

The only module that prints or exits: the others raise and return, so flows and
tasks can use them and report failures their own way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from heroes_core.costs.cloud_prices.aws import pricing_client_factory
from heroes_core.costs.cloud_prices.cache import PriceCache, default_cache_path, load_snapshot
from heroes_core.costs.cloud_prices.errors import PriceCacheError
from heroes_core.costs.cloud_prices.model import COMMAND, PROVIDERS, now
from heroes_core.costs.cloud_prices.oci import OCI_PRICE_LIST_URL


def main(argv: Sequence[str] | None = None) -> int:
    """``refresh``: fetch current prices into the cache and say what was fetched."""
    snapshot = load_snapshot()
    snapshot_aws = snapshot.for_provider("aws")
    parser = argparse.ArgumentParser(prog=COMMAND,
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
    started = now()
    with httpx.Client(follow_redirects=True) as http:
        result = cache.refresh(pricing_client_factory(args.aws_endpoint_url), http, args.regions,
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
