"""The AWS price fetcher against a real moto server (``moto[server]``) over HTTP.

What moto really offers (moto 5.2.5): it has NO ``pricing`` service. A
``pricing:GetProducts`` request reaches the server, which cannot route it to a
backend and answers HTTP 500. So these tests check what HEROES does with a real
AWS-protocol endpoint that fails: a clear error naming the endpoint, the
previous AWS prices kept by a refresh, and a non-zero exit when nothing could
be fetched. EC2 (which moto does serve) is called to prove the endpoint and
client wiring are sound. If moto gains a pricing backend,
``test_moto_has_no_pricing_backend`` fails: then assert on the rows it returns.

moto must be installed: a missing moto fails this module at import, never skips.
This module does not use the HPC test bed fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import moto
import moto.backends
import pytest
from botocore.config import Config

from heroes_core.costs import cloud_prices
from heroes_core.costs.cloud_prices import PriceCache, PriceFetchError, fetch_aws_prices, load_snapshot
from tests.integration.moto_server import free_port, moto_server

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on 127.0.0.1; the test run fails loudly if it does not come up."""
    yield from moto_server(tmp_path_factory.mktemp("moto"), {})


def pricing_client(endpoint: str) -> Any:
    return boto3.client("pricing", region_name="us-east-1", endpoint_url=endpoint,
                        config=Config(retries={"max_attempts": 1}), **CREDENTIALS)


def test_moto_has_no_pricing_backend() -> None:
    modules = set(moto.backends.list_of_moto_modules())
    assert "ec2" in modules
    assert "pricing" not in modules, "moto now emulates pricing: assert on the prices it returns"


def test_moto_endpoint_serves_ec2(moto_endpoint: str) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint, **CREDENTIALS)
    (info,) = ec2.describe_instance_types(InstanceTypes=["c5.xlarge"])["InstanceTypes"]
    assert info["VCpuInfo"]["DefaultVCpus"] == 4


def test_fetch_aws_prices_against_moto_is_a_clear_error(moto_endpoint: str) -> None:
    with pytest.raises(PriceFetchError) as caught:
        fetch_aws_prices(pricing_client(moto_endpoint), "us-east-1", ["c5.xlarge"])
    error = caught.value
    assert error.site == "aws" and error.fix and "--aws-endpoint-url" in error.fix
    assert moto_endpoint in str(error) and "GetProducts" in str(error) and "500" in str(error)


def test_refresh_against_moto_keeps_the_previous_aws_prices(moto_endpoint: str, tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "cloud_prices.json")
    oci = httpx.MockTransport(lambda request: httpx.Response(200, json={"items": [
        {"partNumber": "B93113", "displayName": "Compute - Standard - E4 - OCPU", "metricName": "OCPU Per Hour",
         "serviceCategory": "Compute - Virtual Machine",
         "currencyCodeLocalizations": [{"currencyCode": "USD",
                                        "prices": [{"model": "PAY_AS_YOU_GO", "value": 0.026}]}]}]}))
    factory: Callable[[], Any] = lambda: pricing_client(moto_endpoint)  # noqa: E731
    with httpx.Client(transport=oci) as http:  # no Oracle server can run here: httpx's test transport
        result = cache.refresh(factory, http, ["us-east-1"], ["c5.xlarge"])
    assert set(result.failed) == {"aws"} and moto_endpoint in result.failed["aws"]
    assert result.for_provider("aws") == load_snapshot().for_provider("aws")
    assert result.lookup("oci", "global", "VM.Standard.E4.Flex", "ocpu-hour").source == "oci-price-list"
    assert cache.load() == result


def test_refresh_command_exits_non_zero_when_no_provider_answers(
        moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    cache_path = tmp_path / "prices.json"
    closed = f"http://127.0.0.1:{free_port()}/products/"  # nothing listens: OCI fails too
    code = cloud_prices.main(["refresh", "--cache", str(cache_path), "--regions", "us-east-1",
                              "--instance-types", "c5.xlarge", "--aws-endpoint-url", moto_endpoint,
                              "--oci-url", closed])
    err = capsys.readouterr().err
    assert code == 1
    assert "aws: FAILED" in err and "oci: FAILED" in err and "no provider's prices could be fetched" in err
    assert not cache_path.exists()
