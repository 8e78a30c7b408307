"""The shipped snapshot, the cache file, and a refresh that never loses prices."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.stub import Stubber

from heroes_core.costs.cloud_prices import (
    PriceCache,
    PriceCacheError,
    PriceList,
    default_cache_path,
    load_snapshot,
)
from heroes_core.costs.cloud_prices import cache as cache_module
from tests.unit.heroes_core.costs.cloud_prices.samples import T0, FailingClient, oci_transport, stubbed_aws

AWS_TYPES = ["t3.micro", "c5.xlarge", "c5.4xlarge", "m5.2xlarge", "r5.xlarge", "p3.2xlarge", "g4dn.xlarge"]


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
    assert default_cache_path() == Path.home() / ".local/share/heroes/cloud_prices.json"


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    cache.save(load_snapshot())
    before = cache.path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")
    monkeypatch.setattr(cache_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.save(PriceList(fetched_at=T0))
    assert cache.path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["cloud_prices.json"]  # no temporary file left behind


def test_a_corrupt_cache_is_a_clear_error(tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    cache.path.write_text('{"prices": 3}')
    with pytest.raises(PriceCacheError, match=r"cloud_prices.json is not a price list.*refresh --cache"):
        cache.load()


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
