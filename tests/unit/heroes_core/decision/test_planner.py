"""From a workflow spec to a placement problem: options, prices, predictions, refusals."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.catalog import Application, Catalog
from heroes_core.costs import PriceBook, PriceModel
from heroes_core.decision.metadata import MetadataStore
from heroes_core.decision.planner import PlanningInputs, build_problem, expected_queue_wait_s
from heroes_core.decision.predict import Predictor
from heroes_core.errors import SpecError
from heroes_core.schedulers import SiteLoad
from heroes_core.sites import SiteConfig, SiteLimits
from heroes_core.store import Database
from heroes_core.workflows import WorkflowSpec

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST = "sha256:" + "b" * 64


@pytest.fixture
def prices(database: Database) -> PriceBook:
    book = PriceBook(database)
    for site, per_core_hour in (("cheap", "0.01"), ("fast", "0.10")):
        book.register_provider(site, site, "resource")
        offering = book.offering(site, "partition", f"{site}/main", site=site)
        book.publish(site, offering, PriceModel(currency="EUR", per_core_hour=D(per_core_hour)),
                     valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    return book


def inputs(**overrides: object) -> PlanningInputs:
    sites = [SiteConfig(name=name, host="h", user="u", work_root="/w", partitions=("main",),
                        limits=SiteLimits(max_cores_per_job=cores))
             for name, cores in (("cheap", 4), ("fast", 64))]
    values: dict[str, object] = {
        "sites": sites,
        "catalog": Catalog(applications=[Application(name="sim", digest=DIGEST,
                                                     images={"cheap": "/i", "fast": "/i"})]),
    }
    values.update(overrides)
    return PlanningInputs.model_validate(values)


def spec(**job: object) -> WorkflowSpec:
    return WorkflowSpec.model_validate({"jobs": [{"id": "a", "application": "sim", "command": ["x"],
                                                  "estimate_minutes": 60, "time_limit_minutes": 120,
                                                  **job}]})


def test_each_centre_and_partition_is_an_option_priced_at_its_business_model(database, prices) -> None:  # type: ignore[no-untyped-def]
    problem, details = build_problem(spec(cores=2), inputs(), Predictor(MetadataStore(database)), prices, now=NOW)
    options = {o.site: o for o in problem.jobs[0].options}
    assert options["cheap"].cost == pytest.approx(0.02) and options["fast"].cost == pytest.approx(0.20)
    assert options["cheap"].time_s == pytest.approx(3600)
    assert all(d.prediction and d.prediction.source == "user-estimate" for d in details["a"])


def test_an_option_beyond_a_centres_limits_is_kept_but_marked(database, prices) -> None:  # type: ignore[no-untyped-def]
    problem, _ = build_problem(spec(cores=8), inputs(), Predictor(MetadataStore(database)), prices, now=NOW)
    reasons = {o.site: o.infeasible_reason for o in problem.jobs[0].options}
    assert reasons["fast"] is None and "8 cores > the centre's 4" in str(reasons["cheap"])


def test_a_job_without_history_or_estimate_is_refused(database, prices) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match="estimate"):
        build_problem(spec(estimate_minutes=None), inputs(), Predictor(MetadataStore(database)), prices, now=NOW)


def test_unknown_application_and_site_are_refused(database, prices) -> None:  # type: ignore[no-untyped-def]
    predictor = Predictor(MetadataStore(database))
    with pytest.raises(SpecError, match="unknown application 'cfd'"):
        build_problem(spec(application="cfd"), inputs(), predictor, prices, now=NOW)
    bad = spec().model_copy(update={"allowed_sites": ["mars"]})
    with pytest.raises(SpecError, match="unknown site"):
        build_problem(bad, inputs(), predictor, prices, now=NOW)


def test_queue_wait_grows_with_a_busy_centre() -> None:
    idle = SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=16, total_cpus=16)
    busy = SiteLoad(pending_jobs=9, running_jobs=16, idle_cpus=0, total_cpus=16)
    assert expected_queue_wait_s(idle, 4) == 0 < expected_queue_wait_s(busy, 4)


def test_a_catalogue_job_may_go_to_any_centre_its_image_is_fetched_to(database, prices) -> None:  # type: ignore[no-untyped-def]
    catalogue_job = spec(command=None, application="cfd", parameters={"steps": 3})
    nowhere = inputs(catalog=Catalog(applications=[]))
    problem, _ = build_problem(catalogue_job, nowhere, Predictor(MetadataStore(database)), prices, now=NOW)
    assert {o.site for o in problem.jobs[0].options} == {"cheap", "fast"}


def test_a_catalogue_jobs_licence_fee_is_priced_beside_the_compute(database, prices) -> None:  # type: ignore[no-untyped-def]
    prices.register_provider("acme", "acme", "application")
    licence = prices.offering("acme", "application", "cfd-licence")
    prices.publish("acme", licence, PriceModel(currency="EUR", fixed=D("5"), per_core_hour=D("1")),
                   valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    catalogue_job = spec(command=None, application="cfd", cores=2)
    problem, details = build_problem(catalogue_job, inputs(licences={"a": licence}),
                                     Predictor(MetadataStore(database)), prices, now=NOW)
    options = {o.site: o for o in problem.jobs[0].options}
    # one hour on two cores: 0.02 of compute at "cheap" plus 5 per use and 2 of core-hours of licence
    assert options["cheap"].cost == pytest.approx(7.02) and options["fast"].cost == pytest.approx(7.20)
    assert {d.site: d.cost for d in details["a"]}["cheap"] == D("7.02")


def test_a_centre_whose_every_node_is_down_gets_no_job_and_says_why(database, prices) -> None:  # type: ignore[no-untyped-def]
    down = SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=0, total_cpus=64, unavailable_cpus=64)
    half = SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=16, total_cpus=64, unavailable_cpus=32)
    problem, _ = build_problem(spec(), inputs(loads={"fast": down, "cheap": half}),
                               Predictor(MetadataStore(database)), prices, now=NOW)
    reasons = {o.site: o.infeasible_reason for o in problem.jobs[0].options}
    assert reasons == {"fast": "every node of fast is down or drained", "cheap": None}
    assert half.degraded and half.usable and not down.usable


def test_a_centre_its_events_report_degraded_waits_longer_and_one_reported_down_gets_no_job(
        database, prices) -> None:  # type: ignore[no-untyped-def]
    busy = SiteLoad(pending_jobs=3, running_jobs=4, idle_cpus=0, total_cpus=64)
    predictor = Predictor(MetadataStore(database))
    healthy, _ = build_problem(spec(), inputs(loads={"fast": busy}), predictor, prices, now=NOW)
    degraded, details = build_problem(spec(), inputs(loads={"fast": busy}, unavailable_share={"fast": 0.5}),
                                      predictor, prices, now=NOW)
    wait = {d.site: d.queue_wait_s for d in details["a"]}
    assert wait["fast"] == 2 * 60 * 4  # twice the wait of the healthy centre's four queued jobs
    assert "fast degraded: 50% of its CPUs down or drained" in {d.site: d.note for d in details["a"]}["fast"]
    down, _ = build_problem(spec(), inputs(unavailable_share={"cheap": 1.0}), predictor, prices, now=NOW)
    assert {o.site: o.infeasible_reason for o in down.jobs[0].options}["cheap"] == \
        "every node of cheap is down or drained"
    assert healthy.jobs[0].options[1].time_s < degraded.jobs[0].options[1].time_s


def test_the_organisations_policy_fences_the_centres_and_sets_strategy_and_energy_cap(database, prices) -> None:  # type: ignore[no-untyped-def]
    from heroes_core.decision.policy import DecisionPolicy

    policy = DecisionPolicy(organisation="acme", allowed_platforms=("cheap", "gone"), strategy="price",
                            energy_cap_kj=2.5)
    problem, _ = build_problem(spec(), inputs(policy=policy), Predictor(MetadataStore(database)), prices, now=NOW)
    assert problem.strategy == "price"
    assert problem.constraints.allowed_sites == {"cheap"}  # 'gone' is not a candidate today
    assert problem.constraints.energy_j == 2500.0
    with pytest.raises(SpecError, match="none of the centres allowed"):
        build_problem(spec(), inputs(policy=policy.model_copy(update={"allowed_platforms": ("gone",)})),
                      Predictor(MetadataStore(database)), prices, now=NOW)


def test_a_centres_capacity_is_the_cpus_of_its_nodes_up_now(database, prices) -> None:  # type: ignore[no-untyped-def]
    loads = {"fast": SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=0, total_cpus=64, unavailable_cpus=16)}
    problem, _ = build_problem(spec(), inputs(loads=loads), Predictor(MetadataStore(database)), prices, now=NOW)
    assert problem.constraints.site_capacity_cores == {"fast": 48}  # 'cheap' did not answer: not limited


def test_jobs_sharing_a_licence_with_few_seats_share_its_seats_in_the_placement(database, prices) -> None:  # type: ignore[no-untyped-def]
    two = WorkflowSpec.model_validate({"jobs": [
        {"id": job, "application": "cfd", "estimate_minutes": 60, "time_limit_minutes": 120} for job in "ab"]})
    seats = {"a": ("acme/cfd 1.0", 1), "b": ("acme/cfd 1.0", 1)}
    problem, _ = build_problem(two, inputs(licence_seats=seats), Predictor(MetadataStore(database)), prices, now=NOW)
    assert problem.constraints.licences == {"acme/cfd 1.0": 1}
    assert {o.licence for job in problem.jobs for o in job.options} == {"acme/cfd 1.0"}
    from heroes_core.decision.placement import solve
    refused = solve(problem, time_limit_s=5)
    assert refused.status == "infeasible"
    assert [v.constraint for v in refused.violations] == ["licence:acme/cfd 1.0"]


def test_a_gpu_job_is_placed_only_on_a_partition_declaring_enough_gpus_of_its_type(database, prices) -> None:  # type: ignore[no-untyped-def]
    from heroes_core.decision.placement import solve
    from heroes_core.sites import PartitionGPUs

    sites = inputs().sites
    with_gpus = [sites[0], sites[1].model_copy(update={"gpus": {"main": PartitionGPUs(per_node=2, type="a100")}})]
    problem, _ = build_problem(spec(gpus=2, gpu_type="a100"), inputs(sites=with_gpus),
                               Predictor(MetadataStore(database)), prices, now=NOW)
    options = {o.site: o for o in problem.jobs[0].options}
    assert (options["cheap"].gpus, options["fast"].gpus, problem.jobs[0].required_gpus) == (0, 2, 2)
    assert [c.site for c in solve(problem, time_limit_s=5).choices] == ["fast"]  # though 'cheap' is cheaper
    other_type, _ = build_problem(spec(gpus=1, gpu_type="h100"), inputs(sites=with_gpus),
                                  Predictor(MetadataStore(database)), prices, now=NOW)
    assert "no h100 GPUs on fast/main" in str(other_type.jobs[0].options[1].infeasible_reason)
    too_many, _ = build_problem(spec(gpus=3), inputs(sites=with_gpus), Predictor(MetadataStore(database)),
                                prices, now=NOW)
    refused = solve(too_many.model_copy(update={"strategy": "time"}), time_limit_s=5)
    assert refused.status == "infeasible" and "needs 3 GPUs" in refused.violations[0].detail


def test_a_jobs_transfers_through_the_archive_take_its_centres_bandwidth_and_the_archives_price(
        database, prices) -> None:  # type: ignore[no-untyped-def]
    prices.register_provider("archive", "archive", "resource")
    transfer = prices.offering("archive", "transfer", "archive", site="archive")
    prices.publish("archive", transfer, PriceModel(currency="EUR", per_gb_transferred=D("0.10")),
                   valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    two = WorkflowSpec.model_validate({
        "jobs": [{"id": job, "application": "sim", "command": ["x"], "estimate_minutes": 60,
                  "time_limit_minutes": 120} for job in "ab"],
        "edges": [{"parent": "a", "child": "b", "data_gb": 10}]})
    sites = [site.model_copy(update={"archive_bandwidth_gbps": gbps})
             for site, gbps in zip(inputs().sites, (0.1, 10.0), strict=True)]
    problem, details = build_problem(two, inputs(sites=sites, input_gb={"a": 5.0}, archive="archive"),
                                     Predictor(MetadataStore(database)), prices, now=NOW)
    a = {o.site: o for o in problem.jobs[0].options}
    # a moves 5 GB in and 10 GB out: 15 GB x 8 / 0.1 Gbit/s = 1200 s at 'cheap', 12 s at 'fast'
    assert a["cheap"].time_s == pytest.approx(3600 + 1200) and a["fast"].time_s == pytest.approx(3600 + 12)
    assert a["cheap"].cost == pytest.approx(0.01 + 1.5)  # compute plus 15 GB at 0.10
    assert problem.edges[0].data_gb == 0  # through the archive, wherever parent and child run
    assert "moving 15 GB through the archive" in details["a"][0].note


def test_an_input_missing_from_the_users_area_is_refused_before_planning() -> None:
    from typing import cast

    from heroes_core.data import Archive, Area
    from heroes_core.decision.planner import input_sizes

    class Listing:
        def files(self, path):  # type: ignore[no-untyped-def]
            return [type("Object", (), {"size": 2_000_000_000})()] if path.path == "mesh.dat" else []

    home = Area.home("acme", "ada")
    with_inputs = spec(inputs=["mesh.dat"])
    assert input_sizes(with_inputs, cast(Archive, Listing()), home) == {"a": 2.0}
    with pytest.raises(SpecError, match=r"input 'gone\.dat' of job 'a' is not in"):
        input_sizes(spec(inputs=["gone.dat"]), cast(Archive, Listing()), home)
