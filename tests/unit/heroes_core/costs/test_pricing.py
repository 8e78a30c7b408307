"""Every price formula: fixed part plus usage parts, rounded to the cent."""

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from heroes_core.costs.pricing import PriceModel, Usage, price_lines, total


def test_fixed_part_per_use() -> None:
    lines = price_lines(PriceModel(currency="EUR", fixed=D("2.50")), Usage())
    assert [(line.unit, line.quantity, line.amount) for line in lines] == [("use", D(1), D("2.50"))]


@pytest.mark.parametrize(("component", "usage_field", "unit"), [
    ("per_core_hour", "core_hours", "core-hour"),
    ("per_node_hour", "node_hours", "node-hour"),
    ("per_gpu_hour", "gpu_hours", "gpu-hour"),
    ("per_gb_month", "gb_months", "gb-month"),
    ("per_gb_transferred", "gb_transferred", "gb-transferred"),
])
def test_each_usage_part_multiplies_its_quantity(component: str, usage_field: str, unit: str) -> None:
    model = PriceModel(currency="EUR", **{component: D("0.125")})
    lines = price_lines(model, Usage(uses=D(0), **{usage_field: D("10")}))
    assert [(line.unit, line.unit_price, line.amount) for line in lines] == [(unit, D("0.125"), D("1.25"))]


def test_ax_plus_b_sums_fixed_and_usage_parts() -> None:
    model = PriceModel(currency="USD", fixed=D("1"), per_core_hour=D("0.05"), per_gpu_hour=D("2"))
    usage = Usage.of_job(seconds=1800, cores=8, gpus=1)  # half an hour
    lines = price_lines(model, usage)
    assert total(lines) == D("1") + D("0.20") + D("1.00")


def test_amounts_round_half_even_to_the_cent() -> None:
    lines = price_lines(PriceModel(currency="EUR", per_core_hour=D("0.005")), Usage(uses=D(0), core_hours=D(1)))
    assert lines[0].amount == D("0.00")  # 0.005 -> banker's rounding to 0.00
    lines = price_lines(PriceModel(currency="EUR", per_core_hour=D("0.015")), Usage(uses=D(0), core_hours=D(1)))
    assert lines[0].amount == D("0.02")


def test_negative_zero_and_unknown_currency_prices_are_refused() -> None:
    with pytest.raises(ValidationError, match="fixed\n  Input should be greater than or equal to 0"):
        PriceModel(currency="EUR", fixed=D("-1"))
    with pytest.raises(ValidationError, match="every component is zero"):
        PriceModel(currency="EUR")
    with pytest.raises(ValidationError, match="unknown currency 'EURO'"):
        PriceModel(currency="EURO", fixed=D(1))


def test_usage_of_a_job_counts_core_node_and_gpu_hours() -> None:
    usage = Usage.of_job(seconds=7200, cores=4, nodes=2, gpus=1)
    assert (usage.core_hours, usage.node_hours, usage.gpu_hours) == (D(8), D(4), D(2))


@pytest.mark.parametrize(("worst_case", "reserved"), [("0.00003", "0.01"), ("0", "0.01"), ("1.231", "1.24"),
                                                      ("2.50", "2.50")])
def test_a_reservation_is_the_worst_case_rounded_up_to_the_cent_and_never_nothing(worst_case: str,
                                                                                  reserved: str) -> None:
    from heroes_core.costs.estimates import CostEstimate

    estimate = CostEstimate(offering_id=1, price_version_id=1, usage=Usage(), lines=[], amount=D(worst_case),
                            currency="EUR")
    assert estimate.reservation == D(reserved)
