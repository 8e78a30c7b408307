"""Price rows and lists: lookup, per-resource prices, and the rows a list refuses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from heroes_core.costs.cloud_prices import InstancePrice, PriceList, UnknownPriceError, load_snapshot
from tests.unit.heroes_core.costs.cloud_prices.samples import T0


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
