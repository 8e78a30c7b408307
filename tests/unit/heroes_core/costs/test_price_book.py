"""The price book: history at any instant, ownership, and refused changes that write nothing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from heroes_core.costs.price_book import ForbiddenError, PriceBook, PriceNotFoundError
from heroes_core.costs.pricing import PriceModel
from heroes_core.costs.schema import PriceEvent, PriceVersion
from heroes_core.errors import SpecError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def eur(per_core_hour: str) -> PriceModel:
    return PriceModel(currency="EUR", fixed=D("1"), per_core_hour=D(per_core_hour))


@pytest.fixture
def partition(prices: PriceBook) -> int:
    prices.register_provider("bsc", "Barcelona", "resource")
    prices.register_provider("other", "Other centre", "resource")
    return prices.offering("bsc", "partition", "mn5/general", site="mn5")


def count(prices: PriceBook, table: type) -> int:  # type: ignore[type-arg]
    with prices.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_price_at_instants_before_between_and_after_changes(prices: PriceBook, partition: int) -> None:
    prices.publish("bsc", partition, eur("0.02"), valid_from=day(1), now=day(0))
    prices.change_price("bsc", partition, eur("0.03"), effective=day(10), now=day(5))
    prices.change_price("bsc", partition, eur("0.05"), effective=day(20), now=day(15))
    with pytest.raises(PriceNotFoundError, match="no price of offering"):
        prices.price_at(partition, day(0))
    assert prices.price_at(partition, day(1))[1].per_core_hour == D("0.02")
    assert prices.price_at(partition, day(9) + timedelta(hours=23))[1].per_core_hour == D("0.02")
    assert prices.price_at(partition, day(10))[1].per_core_hour == D("0.03")
    assert prices.price_at(partition, day(15))[1].per_core_hour == D("0.03")
    assert prices.price_at(partition, day(400))[1].per_core_hour == D("0.05")
    assert count(prices, PriceEvent) == 5  # 3 publications and 2 ends, all audited


def test_overlapping_periods_are_refused_and_nothing_is_written(prices: PriceBook, partition: int) -> None:
    prices.publish("bsc", partition, eur("0.02"), valid_from=day(1), valid_to=day(10), now=day(0))
    with pytest.raises(SpecError, match="overlaps version"):
        prices.publish("bsc", partition, eur("0.03"), valid_from=day(5), now=day(0))
    assert count(prices, PriceVersion) == 1
    prices.publish("bsc", partition, eur("0.03"), valid_from=day(10), now=day(0))  # adjacent is fine


def test_the_past_cannot_be_rewritten(prices: PriceBook, partition: int) -> None:
    prices.publish("bsc", partition, eur("0.02"), valid_from=day(1), now=day(0))
    with pytest.raises(SpecError, match="in the past"):
        prices.publish("bsc", partition, eur("0.01"), valid_from=day(2), now=day(3))
    with pytest.raises(SpecError, match="cannot end a price in the past"):
        prices.end("bsc", partition, day(2), now=day(3))


def test_a_provider_cannot_touch_another_providers_prices(prices: PriceBook, partition: int) -> None:
    with pytest.raises(ForbiddenError, match="'other' may not change the prices of 'bsc'"):
        prices.publish("other", partition, eur("0.01"), valid_from=day(1), now=day(0))
    assert count(prices, PriceVersion) == 0


def test_application_providers_offer_applications_only(prices: PriceBook) -> None:
    prices.register_provider("ansys", "Ansys", "application")
    app = prices.offering("ansys", "application", "fluent/2024")
    prices.publish("ansys", app, PriceModel(currency="USD", fixed=D("5"), per_core_hour=D("0.1")),
                   valid_from=day(1), now=day(0))
    with pytest.raises(ForbiddenError):
        prices.offering("ansys", "partition", "x")


def test_exchange_rates_convert_and_a_missing_rate_is_an_error(prices: PriceBook) -> None:
    prices.set_rate("EUR", "USD", D("1.10"), valid_from=day(0))
    assert prices.convert(D("10"), "EUR", "USD", day(1)) == D("11.00")
    assert prices.convert(D("11"), "USD", "EUR", day(1)) == D("10")
    with pytest.raises(SpecError, match="no exchange rate from EUR to GBP"):
        prices.convert(D("1"), "EUR", "GBP", day(1))
    with pytest.raises(SpecError, match="positive"):
        prices.set_rate("EUR", "USD", D("0"), valid_from=day(0))
