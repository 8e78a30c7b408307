"""Predictor: user-estimate fallback, quantile models on synthetic history, refits, energy model, evaluation."""

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from heroes_core.decision.metadata import JobMetadata, MetadataStore
from heroes_core.decision.predict import Predictor
from heroes_core.energy import PowerModel
from heroes_core.errors import SpecError

T0 = datetime(2025, 3, 1, tzinfo=UTC)
A = 36.0  # seconds per unit of size per core: runtime = A * size / cores
SIGMA = 0.15  # log-normal noise
Z90 = 1.2815515655446004


def truth(size: float, cores: int) -> float:
    return A * size / cores


def record(i: int, *, size: float, cores: int, runtime: float, **overrides: Any) -> JobMetadata:
    values: dict[str, Any] = dict(
        job_key=f"job-{i}", workflow_id="wf", organisation="acme", user="alice", application="solver",
        size=size, site="meluxina", cores=cores, nodes=1, requested_time_s=runtime * 3,
        used_time_s=runtime, max_memory_mb=50 + 2 * size, submitted_at=T0 + timedelta(minutes=i))
    values.update(overrides)
    return JobMetadata(**values)


def history(store: MetadataStore, n: int = 200, seed: int = 1, start: int = 0, **overrides: Any) -> None:
    rng = np.random.default_rng(seed)
    for i in range(start, start + n):
        size = float(rng.uniform(10, 1000))
        cores = int(rng.choice([1, 2, 4, 8, 16, 32]))
        runtime = truth(size, cores) * math.exp(rng.normal(0, SIGMA))
        store.record(record(i, size=size, cores=cores, runtime=runtime, **overrides))


# -- too little history -------------------------------------------------------------------------


def test_few_runs_use_the_user_estimate(store: MetadataStore) -> None:
    history(store, n=4)
    predictor = Predictor(store, min_samples=5)
    p = predictor.predict("solver", "meluxina", cores=8, size=100, user_estimate_s=600, user_memory_mb=1000,
                          power=PowerModel(idle_watts_per_node=0, watts_per_core=10))
    assert p.source == "user-estimate"
    assert p.samples == 4
    assert p.runtime_s_p50 == p.runtime_s_p90 == 600
    assert p.memory_mb_p50 == 1000
    assert "fewer than 5 past runs of solver on meluxina" in p.note
    assert "using the user's estimate" in p.note
    assert p.energy_source == "model" and p.energy_j_p50 == 8 * 600 * 10
    assert "modelled" in p.note
    assert predictor.fits == 0


def test_no_history_and_no_estimate_is_a_spec_error(store: MetadataStore) -> None:
    with pytest.raises(SpecError, match=r"'solver' on 'lumi'.*no runtime estimate") as caught:
        Predictor(store).predict("solver", "lumi", cores=4)
    assert caught.value.site == "lumi"
    assert "user_estimate_s" in (caught.value.fix or "")


def test_failed_runs_do_not_count_as_history(store: MetadataStore) -> None:
    history(store, n=10, outcome="FAILED")
    p = Predictor(store).predict("solver", "meluxina", cores=1, user_estimate_s=60)
    assert p.source == "user-estimate" and p.samples == 0


# -- learnt from history ------------------------------------------------------------------------


def test_quantile_model_on_synthetic_history(store: MetadataStore) -> None:
    history(store, n=200)
    predictor = Predictor(store)
    for size, cores in [(500.0, 8), (200.0, 4), (800.0, 16)]:
        p = predictor.predict("solver", "meluxina", cores=cores, size=size, user_estimate_s=1,
                              power=PowerModel(idle_watts_per_node=0, watts_per_core=10))
        assert p.source == "model" and p.samples == 200
        assert p.runtime_s_p50 == pytest.approx(truth(size, cores), rel=0.25)
        assert p.runtime_s_p90 >= p.runtime_s_p50
        assert p.runtime_s_p90 == pytest.approx(truth(size, cores) * math.exp(Z90 * SIGMA), rel=0.3)
        assert p.memory_mb_p50 == pytest.approx(50 + 2 * size, rel=0.2)
        assert p.memory_mb_p90 is not None and p.memory_mb_p90 >= p.memory_mb_p50
        # no measured energy in this history: the model, and the note says so
        assert p.energy_source == "model"
        assert p.energy_j_p50 == pytest.approx(cores * p.runtime_s_p50 * 10)
        assert "no measured energy" in p.note
    assert predictor.fits == 1  # one fit served the three predictions


def test_evaluate_held_out_accuracy_and_coverage(store: MetadataStore) -> None:
    history(store, n=200)
    report = Predictor(store).evaluate("solver", "meluxina", holdout=0.25, seed=0)
    assert (report.n_train, report.n_test) == (150, 50)
    assert report.mape < 0.3
    assert report.mae_s > 0
    assert 0.7 <= report.p90_coverage <= 1.0
    with pytest.raises(SpecError, match="too few"):
        Predictor(store).evaluate("solver", "nowhere")


def test_refit_only_when_new_records_arrive(store: MetadataStore) -> None:
    history(store, n=40)
    predictor = Predictor(store)
    predictor.predict("solver", "meluxina", cores=4, size=100)
    predictor.predict("solver", "meluxina", cores=8, size=300)
    assert predictor.fits == 1
    history(store, n=5, seed=2, start=40)
    p = predictor.predict("solver", "meluxina", cores=4, size=100)
    assert predictor.fits == 2 and p.samples == 45
    predictor.predict("solver", "meluxina", cores=4, size=100)
    assert predictor.fits == 2
    # a corrected record (same job key) also triggers a refit
    store.record(record(0, size=10, cores=1, runtime=400))
    predictor.predict("solver", "meluxina", cores=4, size=100)
    assert predictor.fits == 3
    predictor.invalidate()
    predictor.predict("solver", "meluxina", cores=4, size=100)
    assert predictor.fits == 4


def test_measured_energy_is_learnt(store: MetadataStore) -> None:
    rng = np.random.default_rng(3)
    for i in range(60):
        size, cores = float(rng.uniform(10, 1000)), int(rng.choice([2, 4, 8]))
        runtime = truth(size, cores) * math.exp(rng.normal(0, SIGMA))
        store.record(record(i, size=size, cores=cores, runtime=runtime,
                            energy_j=cores * runtime * 25, energy_source="slurm"))
    p = Predictor(store).predict("solver", "meluxina", cores=4, size=500)
    assert p.energy_source == "measured"
    assert p.energy_j_p50 == pytest.approx(4 * truth(500, 4) * 25, rel=0.3)  # 25 W/core, not the 10 W default
    assert p.energy_j_p90 is not None and p.energy_j_p90 >= p.energy_j_p50


def test_modelled_energy_is_not_learnt_as_measured(store: MetadataStore) -> None:
    history(store, n=20, energy_j=1.0, energy_source="model")
    power = PowerModel(idle_watts_per_node=20, watts_per_core=5, pue=1.5)
    p = Predictor(store).predict("solver", "meluxina", cores=2, size=100, power=power)
    assert p.energy_source == "model"
    assert p.energy_j_p50 == pytest.approx(p.runtime_s_p50 * (20 + 2 * 5) * 1.5)


def test_without_a_measurement_or_a_declared_power_model_energy_is_unknown(store: MetadataStore) -> None:
    history(store, n=20, energy_j=1.0, energy_source="model")
    p = Predictor(store).predict("solver", "meluxina", cores=2, size=100)
    assert (p.energy_source, p.energy_j_p50, p.energy_j_p90) == (None, None, None)
    assert "no power model declared" in p.note
