"""Reserve, commit, release: the budget invariants on SQLite."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.costs.budgets import BudgetExceededError, Budgets, ChargeItem
from heroes_core.costs.ledger import Ledger
from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceModel, Usage
from heroes_core.errors import SpecError
from heroes_core.models import JobState, JobStatus

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def partition(prices: PriceBook) -> int:
    prices.register_provider("centre", "Centre", "resource")
    offering = prices.offering("centre", "partition", "hpc/debug", site="hpc")
    prices.publish("centre", offering, PriceModel(currency="EUR", fixed=D("1"), per_core_hour=D("0.5")),
                   valid_from=NOW - timedelta(days=30), now=NOW - timedelta(days=31))
    return offering


def test_a_hard_budget_refuses_what_it_cannot_cover_and_writes_nothing(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("8"), "EUR", now=NOW)
    with pytest.raises(BudgetExceededError, match=r"has 2\.00 EUR left; this needs 3\.00"):
        budgets.reserve("acme", None, "wf-2", D("3"), "EUR", now=NOW)
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("8"), D("0"))


def test_a_soft_budget_lets_it_through(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", hard=False, period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("15"), "EUR", now=NOW)
    assert budgets.get(budget).available == D("-5")


def test_commit_prices_actual_usage_and_release_returns_the_rest(budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("100"), "EUR", project="p1", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", "p1", "wf-1", D("20"), "EUR", now=NOW)
    item = ChargeItem(offering_id=partition, usage=Usage.of_job(seconds=3600, cores=4), site="hpc")
    added = budgets.commit("wf-1", organisation="acme", project="p1", user="ada", job_key="job-1",
                           items=[item], incurred_at=NOW)
    assert added == D("3.00")  # 1 + 4 core-hours x 0.5
    assert budgets.commit("wf-1", organisation="acme", project="p1", user="ada", job_key="job-1",
                          items=[item], incurred_at=NOW) == D("0")  # idempotent
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("17.00"), D("3.00"))
    assert budgets.release("wf-1", now=NOW) == D("17.00")
    assert budgets.release("wf-1", now=NOW) == D("0")
    view = budgets.get(budget)
    assert (view.reserved, view.committed, view.available) == (D("0"), D("3.00"), D("97.00"))
    lines = Ledger(budgets.db).lines(organisation="acme")
    assert [(line.unit, line.amount) for line in lines] == [("use", D("1.00")), ("core-hour", D("2.00"))]


def test_project_and_organisation_budgets_must_both_have_room(budgets: Budgets) -> None:
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.create("acme", D("5"), "EUR", project="small", period_start=NOW - timedelta(days=1))
    with pytest.raises(BudgetExceededError):
        budgets.reserve("acme", "small", "wf-1", D("6"), "EUR", now=NOW)
    assert all(v.reserved == 0 for v in budgets.budgets_of("acme"))
    assert len(budgets.reserve("acme", "small", "wf-2", D("4"), "EUR", now=NOW)) == 2


def test_a_budget_in_another_currency_needs_a_rate(budgets: Budgets, prices: PriceBook) -> None:
    budgets.create("acme", D("100"), "USD", period_start=NOW - timedelta(days=1))
    with pytest.raises(SpecError, match="no exchange rate from EUR to USD"):
        budgets.reserve("acme", None, "wf-1", D("10"), "EUR", now=NOW)
    prices.set_rate("EUR", "USD", D("1.2"), valid_from=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("10"), "EUR", now=NOW)
    assert budgets.budgets_of("acme")[0].reserved == D("12.00")


def test_no_budget_in_force_is_a_clear_error(budgets: Budgets) -> None:
    budgets.create("acme", D("10"), "EUR", period_start=NOW + timedelta(days=1))
    with pytest.raises(SpecError, match="'acme' has no budget in force"):
        budgets.reserve("acme", None, "wf", D("1"), "EUR", now=NOW)


def test_a_crash_between_reserve_and_commit_is_cleaned_up_by_the_release_path(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "crashed-wf", D("7"), "EUR", now=NOW)
    # ... the workflow process dies here: no commit, no release ...
    assert budgets.get(budget).reserved == D("7")
    outcomes = budgets.sweep_stale(now=NOW + timedelta(hours=49))
    assert [(o.workflow_id, o.action) for o in outcomes] == [("crashed-wf", "released")]
    assert budgets.get(budget).reserved == D("0")


def test_billing_views_consolidate_and_export_csv(budgets: Budgets, partition: int) -> None:
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    for n, user in enumerate(["ada", "ada", "bob"]):
        budgets.reserve("acme", None, f"wf-{n}", D("5"), "EUR", now=NOW)
        budgets.commit(f"wf-{n}", organisation="acme", project=None, user=user, job_key=f"j{n}",
                       items=[ChargeItem(offering_id=partition, usage=Usage.of_job(seconds=3600, cores=2),
                                         site="hpc")], incurred_at=NOW)
    ledger = Ledger(budgets.db)
    rows = ledger.consolidate(ledger.lines(), ["user", "month"])
    assert rows == [{"user": "ada", "month": "2026-03", "currency": "EUR", "amount": "4.00", "overage": "0.00"},
                    {"user": "bob", "month": "2026-03", "currency": "EUR", "amount": "2.00", "overage": "0.00"}]
    assert ledger.to_csv(rows).splitlines()[0] == "user,month,currency,amount,overage"


def test_available_for_planning_is_the_tightest_hard_budget(budgets: Budgets) -> None:
    assert budgets.available_for("acme", "p1", "EUR", NOW) is None
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.create("acme", D("30"), "EUR", project="p1", period_start=NOW - timedelta(days=1))
    budgets.create("acme", D("5"), "EUR", project="p1", hard=False, period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", "p1", "wf", D("10"), "EUR", now=NOW)
    assert budgets.available_for("acme", "p1", "EUR", NOW) == D("20")
    assert budgets.available_for("acme", None, "EUR", NOW) == D("90")


# -- the ledger charges each run's job once (issue 9, item 3) ------------------------------------

def charge(budgets: Budgets, workflow_id: str, job_key: str, partition: int, *, hours: int = 1,
           cores: int = 4, at: datetime = NOW, scheduler_job_id: str | None = None) -> D:
    item = ChargeItem(offering_id=partition, usage=Usage.of_job(seconds=3600 * hours, cores=cores),
                      site="hpc")
    return budgets.commit(workflow_id, organisation="acme", project=None, user="ada", job_key=job_key,
                          items=[item], incurred_at=at, scheduler_job_id=scheduler_job_id)


def test_two_runs_reusing_one_job_key_are_both_charged(budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    for run, slurm_id in (("run-a", "101"), ("run-b", "202")):
        budgets.reserve("acme", None, run, D("10"), "EUR", now=NOW)
        assert charge(budgets, run, "same-key", partition, scheduler_job_id=slurm_id) == D("3.00")
        assert charge(budgets, run, "same-key", partition, scheduler_job_id=slurm_id) == D("0")
        budgets.release(run, now=NOW)
    assert budgets.get(budget).committed == D("6.00")
    assert sum(line.amount for line in Ledger(budgets.db).lines()) == D("6.00")


def test_two_runs_reusing_one_job_key_are_both_charged_without_a_scheduler_job_id(
        budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    for run in ("run-a", "run-b"):
        budgets.reserve("acme", None, run, D("10"), "EUR", now=NOW)
        assert charge(budgets, run, "same-key", partition) == D("3.00")
        assert charge(budgets, run, "same-key", partition) == D("0")
    assert budgets.get(budget).committed == D("6.00")


# -- a hard budget never ends above its amount (issue 9, item 8) ----------------------------------

def test_a_job_overrunning_its_reservation_never_takes_a_hard_budget_above_its_amount(
        budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("3"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf", D("3"), "EUR", now=NOW)  # the whole budget
    # Slurm's KillWait let the job run past its limit: 2 h on 4 cores = 1 + 4 = 5.00 EUR.
    assert charge(budgets, "wf", "job", partition, hours=2) == D("5.00")
    budgets.release("wf", now=NOW)
    view = budgets.get(budget)
    assert (view.reserved, view.committed, view.overage) == (D("0"), D("3.00"), D("2.00"))
    assert view.committed <= view.amount
    lines = Ledger(budgets.db).lines()
    assert sum(line.amount for line in lines) == D("5.00")
    assert sum(line.overage for line in lines) == D("2.00")
    rows = Ledger.consolidate(lines, ["workflow"])
    assert rows == [{"workflow": "wf", "currency": "EUR", "amount": "5.00", "overage": "2.00"}]


def test_an_overrun_is_paid_from_the_free_room_of_a_hard_budget_before_it_is_overage(
        budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("6"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf", D("3"), "EUR", now=NOW)
    assert charge(budgets, "wf", "job", partition, hours=2) == D("5.00")
    view = budgets.get(budget)
    assert (view.reserved, view.committed, view.overage) == (D("0"), D("5.00"), D("0"))


def test_a_soft_budget_is_charged_in_full_and_records_no_overage(budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("3"), "EUR", hard=False, period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf", D("3"), "EUR", now=NOW)
    charge(budgets, "wf", "job", partition, hours=2)
    view = budgets.get(budget)
    assert (view.reserved, view.committed, view.overage) == (D("0"), D("5.00"), D("0"))


def test_a_price_raised_between_reserve_and_end_is_charged_at_the_reserved_version(
        budgets: Budgets, prices: PriceBook, partition: int) -> None:
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    version, _ = prices.price_at(partition, NOW)
    budgets.reserve("acme", None, "wf", D("10"), "EUR", now=NOW, price_versions={partition: version})
    prices.change_price("centre", partition, PriceModel(currency="EUR", fixed=D("5"), per_core_hour=D("5")),
                        effective=NOW + timedelta(minutes=5), now=NOW)
    assert charge(budgets, "wf", "job", partition, at=NOW + timedelta(hours=1)) == D("3.00")
    assert [line.price_version_id for line in Ledger(budgets.db).lines()] == [version, version]
    # a run that reserved without naming a version pays the price in force when the job ran
    budgets.reserve("acme", None, "wf-2", D("30"), "EUR", now=NOW)
    assert charge(budgets, "wf-2", "job", partition, at=NOW + timedelta(hours=1)) == D("25.00")


def test_a_reservation_refuses_a_price_version_of_another_offering(
        budgets: Budgets, prices: PriceBook, partition: int) -> None:
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    version, _ = prices.price_at(partition, NOW)
    with pytest.raises(SpecError, match=f"price version {version} is not a price of offering 999"):
        budgets.reserve("acme", None, "wf", D("10"), "EUR", now=NOW, price_versions={999: version})


# -- the stale-reservation sweep asks the scheduler first (issue 9, item 8) -----------------------

def status(job_id: str, state: JobState, end: datetime | None = None) -> JobStatus:
    return JobStatus(job_id=job_id, state=state, end_time=end)


class FakeCentres:
    """What each (site, job key) looks like to the scheduler; records every question."""

    def __init__(self, jobs: dict[tuple[str, str], list[JobStatus] | Exception]) -> None:
        self.jobs = jobs
        self.asked: list[tuple[str, str]] = []

    def __call__(self, site: str, job_key: str) -> list[JobStatus]:
        self.asked.append((site, job_key))
        answer = self.jobs.get((site, job_key), [])
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_sweep_keeps_a_reservation_whose_job_still_runs_after_48_hours(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=30))
    budgets.reserve("acme", None, "long", D("7"), "EUR", now=NOW - timedelta(days=20), site="hpc",
                    job_key="k-long")
    centres = FakeCentres({("hpc", "k-long"): [status("42", JobState.RUNNING)]})
    outcomes = budgets.sweep_stale(now=NOW, job_states=centres)
    assert [(o.workflow_id, o.action) for o in outcomes] == [("long", "kept")]
    assert "job 42 is RUNNING on hpc" in outcomes[0].reason
    assert centres.asked == [("hpc", "k-long")]
    assert budgets.get(budget).reserved == D("7")


def test_the_sweep_releases_a_reservation_with_no_job_after_its_age_limit(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=30))
    budgets.reserve("acme", None, "never-submitted", D("3"), "EUR", now=NOW - timedelta(hours=49),
                    site="hpc", job_key="k-none")
    budgets.reserve("acme", None, "no-job-recorded", D("2"), "EUR", now=NOW - timedelta(hours=49))
    budgets.reserve("acme", None, "young", D("1"), "EUR", now=NOW - timedelta(hours=47), site="hpc",
                    job_key="k-young")
    outcomes = budgets.sweep_stale(now=NOW, job_states=FakeCentres({}))
    assert sorted((o.workflow_id, o.action) for o in outcomes) == [
        ("never-submitted", "released"), ("no-job-recorded", "released")]
    assert budgets.get(budget).reserved == D("1")


def test_the_sweep_keeps_a_job_the_scheduler_cannot_report_until_no_job_could_still_run(
        budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=60))
    budgets.reserve("acme", None, "unreachable", D("2"), "EUR", now=NOW - timedelta(days=3), site="down",
                    job_key="k1")
    budgets.reserve("acme", None, "unknown", D("3"), "EUR", now=NOW - timedelta(days=3), site="hpc",
                    job_key="k2")
    budgets.reserve("acme", None, "ancient", D("4"), "EUR", now=NOW - timedelta(days=32), site="hpc",
                    job_key="k3")
    centres = FakeCentres({("down", "k1"): ConnectionError("login node unreachable"),
                           ("hpc", "k2"): [status("7", JobState.UNKNOWN)],
                           ("hpc", "k3"): [status("8", JobState.UNKNOWN)]})
    outcomes = {o.workflow_id: o for o in budgets.sweep_stale(now=NOW, job_states=centres)}
    assert {w: o.action for w, o in outcomes.items()} == {
        "unreachable": "kept", "unknown": "kept", "ancient": "released"}
    assert "login node unreachable" in outcomes["unreachable"].reason
    assert budgets.get(budget).reserved == D("5")


def test_the_sweep_releases_a_finished_job_its_run_never_released(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=30))
    budgets.reserve("acme", None, "crashed", D("4"), "EUR", now=NOW - timedelta(days=3), site="hpc",
                    job_key="k-done")
    budgets.reserve("acme", None, "just-ended", D("5"), "EUR", now=NOW - timedelta(days=3), site="hpc",
                    job_key="k-just")
    centres = FakeCentres({
        ("hpc", "k-done"): [status("9", JobState.COMPLETED, NOW - timedelta(days=1))],
        ("hpc", "k-just"): [status("10", JobState.FAILED, NOW - timedelta(minutes=5))]})
    outcomes = {o.workflow_id: o for o in budgets.sweep_stale(now=NOW, job_states=centres)}
    assert (outcomes["crashed"].action, outcomes["just-ended"].action) == ("released", "kept")
    assert "job 9 ended COMPLETED" in outcomes["crashed"].reason
    assert budgets.get(budget).reserved == D("5")


def test_without_a_scheduler_to_ask_the_sweep_keeps_every_reservation_with_a_job(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=30))
    budgets.reserve("acme", None, "wf", D("4"), "EUR", now=NOW - timedelta(days=3), site="hpc", job_key="k")
    assert [o.action for o in budgets.sweep_stale(now=NOW)] == ["kept"]
    assert budgets.get(budget).reserved == D("4")


def test_a_workflow_that_reserved_again_after_a_release_is_charged_once_per_budget(
        budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf", D("10"), "EUR", now=NOW)
    budgets.release("wf", now=NOW)  # e.g. the sweep freed it; the resumed run reserves again
    budgets.reserve("acme", None, "wf", D("10"), "EUR", now=NOW)
    assert charge(budgets, "wf", "job", partition) == D("3.00")
    budgets.release("wf", now=NOW)
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("0"), D("3.00"))
