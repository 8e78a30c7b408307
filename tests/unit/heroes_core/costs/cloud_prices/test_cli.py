"""The refresh command: what it fetches, where it saves, and what it prints."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.stub import Stubber

from heroes_core.costs.cloud_prices import PriceCache, cli, load_snapshot
from tests.unit.heroes_core.costs.cloud_prices.samples import oci_transport, stubbed_aws


def test_refresh_command_prints_what_it_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                pricing: tuple[Any, Stubber]) -> None:
    factory = stubbed_aws(pricing)
    endpoints: list[str | None] = []

    def fake_factory(endpoint_url: str | None) -> Callable[[], Any]:
        endpoints.append(endpoint_url)
        return factory
    monkeypatch.setattr(cli, "pricing_client_factory", fake_factory)
    real_client = httpx.Client
    monkeypatch.setattr(cli.httpx, "Client",
                        lambda **kwargs: real_client(transport=oci_transport(), **kwargs))
    cache_path = tmp_path / "prices.json"
    code = cli.main(["refresh", "--cache", str(cache_path), "--regions", "us-east-1", "eu-west-1",
                              "--instance-types", "c5.xlarge", "--aws-endpoint-url", "http://127.0.0.1:5000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert endpoints == ["http://127.0.0.1:5000"]
    assert "aws: 2 prices fetched" in out and "oci: 5 prices fetched" in out
    assert f"saved {len(load_snapshot().prices)} prices to {cache_path}" in out
    assert PriceCache(cache_path).load().lookup("aws", "eu-west-1", "c5.xlarge").price_per_hour == Decimal("0.2")
