"""Job-level prediction: runtime, peak memory and energy of a run, from past runs.

One set of models per (application, site), learnt from that pair's COMPLETED
records in the :class:`~heroes_core.decision.metadata.MetadataStore`:

* **Quantile regression**, p50 and p90, on logarithms: runtime, memory and
  energy are positive and scale multiplicatively with size and cores, and
  quantiles commute with the monotone ``log`` (``exp(q90(log y)) = q90(y)``).
  Each quantile is a linear quantile regression (``QuantileRegressor``, pinball
  loss) on log size, log cores, log nodes, i.e. a power law, which extrapolates
  sensibly beyond the sizes seen, refined by gradient boosting
  (``GradientBoostingRegressor(loss="quantile", init=<that linear model>)``,
  shallow trees) for what a power law misses (Amdahl saturation, thresholds).
  Trees alone were tried: on 200 synthetic runs their held-out MAPE was 15-110 %
  (steps at the edges of the data) against about 11 % (the noise floor) for the
  power law + boosting. Features: log size, cores, nodes, log cores, log nodes,
  and whether a size was given.
* **Few past runs** (fewer than ``min_samples``): the user's estimate is used,
  and the prediction says so; without an estimate a :class:`SpecError` asks
  for one.
* **Energy**: learnt from measured energy (EAR or the Slurm plugin) when enough
  runs have it, else modelled from the partition's declared power model (idle watts per
  node, watts per core and GPU, PUE) over the predicted runtime, labelled
  ``energy_source="model"``; with neither, unknown (None).

Retraining. scikit-learn has no incremental learner with a quantile (pinball)
loss: ``SGDRegressor.partial_fit`` offers squared, Huber and epsilon-insensitive
losses only, and gradient boosting cannot add samples to fitted trees. Each
(application, site) has at most a few thousand runs, so a refit takes
milliseconds to a second; the fitted models are therefore cached per
(application, site) with the store's fingerprint of that pair (record count,
latest recording time) and refitted only when it changes, i.e. when runs were
recorded or corrected since the last fit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from sklearn.ensemble import GradientBoostingRegressor  # type: ignore[import-untyped]
from sklearn.linear_model import QuantileRegressor  # type: ignore[import-untyped]

from heroes_core.decision.metadata import MetadataStore, StoredJobMetadata
from heroes_core.energy import MEASURED_ENERGY_SOURCES, PowerModel
from heroes_core.errors import SpecError
from heroes_core.models import JobState

FloatArray = npt.NDArray[np.float64]
QUANTILES = (0.5, 0.9)


class Prediction(BaseModel):
    """What a run of ``application`` on ``site`` is expected to take; p50 = median, p90 = 9 in 10 below."""

    model_config = ConfigDict(frozen=True)

    application: str
    site: str
    runtime_s_p50: float
    runtime_s_p90: float
    memory_mb_p50: float | None
    memory_mb_p90: float | None
    energy_j_p50: float | None
    energy_j_p90: float | None
    energy_source: Literal["measured", "model"] | None
    source: Literal["model", "user-estimate"]
    samples: int
    note: str


class ModelReport(BaseModel):
    """Held-out quality of the runtime model of one (application, site)."""

    model_config = ConfigDict(frozen=True)

    application: str
    site: str
    n_train: int
    n_test: int
    mae_s: float
    mape: float  # fraction, 0.1 = 10 %
    p90_coverage: float  # fraction of held-out runtimes <= predicted p90


def features(sizes: Sequence[float | None], cores: Sequence[int], nodes: Sequence[int]) -> FloatArray:
    """The feature matrix: log size, cores, nodes, log cores, log nodes, has-size."""
    rows = []
    for size, core, node in zip(sizes, cores, nodes, strict=True):
        has_size = size is not None and size > 0
        rows.append([math.log(size) if has_size and size else 0.0, float(core), float(node),
                     math.log(max(core, 1)), math.log(max(node, 1)), 1.0 if has_size else 0.0])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


class QuantileModel:
    """p50 and p90 of ``log(target)`` by gradient boosting; predictions in the target's unit."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._models: dict[float, GradientBoostingRegressor] = {}

    def fit(self, x: FloatArray, y: FloatArray) -> QuantileModel:
        log_y = np.log(np.maximum(y, 1e-9))
        n = len(y)
        for q in QUANTILES:
            model = GradientBoostingRegressor(
                loss="quantile", alpha=q, n_estimators=100, learning_rate=0.05, max_depth=2,
                min_samples_leaf=max(1, min(15, n // 10)), random_state=self.seed,
                init=QuantileRegressor(quantile=q, alpha=0.0, solver="highs"))
            model.fit(x, log_y)
            self._models[q] = model
        return self

    def predict(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        p50 = np.exp(self._models[0.5].predict(x))
        p90 = np.exp(self._models[0.9].predict(x))
        return p50, np.maximum(p50, p90)  # quantile models can cross: p90 is never below p50


@dataclass
class _Fitted:
    fingerprint: tuple[int, datetime | None]
    samples: int
    runtime: QuantileModel | None
    memory: QuantileModel | None
    energy: QuantileModel | None


def _completed(records: Sequence[StoredJobMetadata]) -> list[StoredJobMetadata]:
    return [r for r in records if r.outcome == JobState.COMPLETED.value and r.used_time_s > 0]


def _fit(records: Sequence[StoredJobMetadata], target: Callable[[StoredJobMetadata], float | None],
         min_samples: int, seed: int) -> QuantileModel | None:
    usable = [(r, value) for r in records if (value := target(r)) is not None and value > 0]
    if len(usable) < min_samples:
        return None
    x = features([r.size for r, _ in usable], [r.cores for r, _ in usable], [r.nodes for r, _ in usable])
    return QuantileModel(seed).fit(x, np.asarray([v for _, v in usable], dtype=np.float64))


def _measured_energy(record: StoredJobMetadata) -> float | None:
    return record.energy_j if record.energy_source in MEASURED_ENERGY_SOURCES else None


class Predictor:
    """Predictions per (application, site) from the metadata store; see the module docstring."""

    def __init__(self, store: MetadataStore, min_samples: int = 5, *, seed: int = 0) -> None:
        if min_samples < 2:
            raise SpecError(f"min_samples={min_samples}: at least 2 past runs are needed to learn from")
        self.store = store
        self.min_samples = min_samples
        self.seed = seed
        self.fits = 0  # number of (application, site) model fits so far: refits are observable
        self._cache: dict[tuple[str, str], _Fitted] = {}
        self._lock = threading.Lock()

    # -- training ----------------------------------------------------------------------------

    def _train(self, records: Sequence[StoredJobMetadata]) -> tuple[QuantileModel | None, ...]:
        return (_fit(records, lambda r: r.used_time_s, self.min_samples, self.seed),
                _fit(records, lambda r: r.max_memory_mb, self.min_samples, self.seed),
                _fit(records, _measured_energy, self.min_samples, self.seed))

    def _fitted(self, application: str, site: str) -> _Fitted:
        key = (application, site)
        fingerprint = self.store.fingerprint(application, site)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.fingerprint == fingerprint:
                return cached
            records = _completed(self.store.records(application, site))
            if len(records) >= self.min_samples:
                runtime, memory, energy = self._train(records)
                self.fits += 1
            else:
                runtime = memory = energy = None
            fitted = _Fitted(fingerprint, len(records), runtime, memory, energy)
            self._cache[key] = fitted
            return fitted

    # -- prediction --------------------------------------------------------------------------

    def predict(self, application: str, site: str, *, cores: int, nodes: int = 1,
                size: float | None = None, user_estimate_s: float | None = None,
                user_memory_mb: float | None = None, gpus: int = 0,
                power: PowerModel | None = None) -> Prediction:
        """Runtime, memory and energy quantiles of one run; the user's estimate when history is short.

        ``power``: the partition's declared power model, which models the energy when no past run
        of the application there was measured.
        """
        if cores < 1 or nodes < 1:
            raise SpecError(f"cores={cores}, nodes={nodes}: both must be at least 1", site=site)
        fitted = self._fitted(application, site)
        notes: list[str] = []
        x = features([size], [cores], [nodes])
        source: Literal["model", "user-estimate"]
        if fitted.runtime is None:
            if user_estimate_s is None or user_estimate_s <= 0:
                raise SpecError(
                    f"only {fitted.samples} completed past run(s) of {application!r} on {site!r} "
                    f"(need {self.min_samples}) and no runtime estimate given",
                    site=site,
                    fix=f"give an estimate of the run time of {application!r} (user_estimate_s), "
                        "e.g. from a test run")
            runtime_p50 = runtime_p90 = float(user_estimate_s)
            source = "user-estimate"
            notes.append(f"fewer than {self.min_samples} past runs of {application} on {site} "
                         f"({fitted.samples}): using the user's estimate")
        else:
            p50, p90 = fitted.runtime.predict(x)
            runtime_p50, runtime_p90 = float(p50[0]), float(p90[0])
            source = "model"
            notes.append(f"runtime learnt from {fitted.samples} past runs of {application} on {site}")

        memory_p50: float | None
        memory_p90: float | None
        if fitted.memory is not None:
            m50, m90 = fitted.memory.predict(x)
            memory_p50, memory_p90 = float(m50[0]), float(m90[0])
        else:
            memory_p50 = memory_p90 = user_memory_mb
            notes.append("peak memory: " + ("the user's figure" if user_memory_mb is not None
                                            else "unknown (no history, no user figure)"))

        energy_source: Literal["measured", "model"] | None
        energy_p50: float | None
        energy_p90: float | None
        if fitted.energy is not None:
            e50, e90 = fitted.energy.predict(x)
            energy_p50, energy_p90 = float(e50[0]), float(e90[0])
            energy_source = "measured"
            notes.append("energy learnt from measured energy (EAR / Slurm)")
        elif power is not None:
            busy = {"nodes": nodes, "cores": cores, "gpus": gpus}
            energy_p50 = power.energy_j(seconds=runtime_p50, **busy)
            energy_p90 = power.energy_j(seconds=runtime_p90, **busy)
            energy_source = "model"
            notes.append(f"no measured energy: modelled at the partition's declared "
                         f"{power.watts(**busy):g} W")
        else:
            energy_p50 = energy_p90 = None
            energy_source = None
            notes.append("energy unknown: nothing measured and no power model declared for the partition")
        return Prediction(application=application, site=site, runtime_s_p50=runtime_p50,
                          runtime_s_p90=runtime_p90, memory_mb_p50=memory_p50, memory_mb_p90=memory_p90,
                          energy_j_p50=energy_p50, energy_j_p90=energy_p90, energy_source=energy_source,
                          source=source, samples=fitted.samples, note="; ".join(notes))

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, application: str, site: str, holdout: float = 0.25, seed: int = 0) -> ModelReport:
        """Fit on a random (1 - ``holdout``) of the completed runs, score the p50/p90 runtime on the rest."""
        if not 0 < holdout < 1:
            raise SpecError(f"holdout={holdout}: give a fraction between 0 and 1")
        records = _completed(self.store.records(application, site))
        n_test = max(1, round(len(records) * holdout))
        n_train = len(records) - n_test
        if n_train < self.min_samples:
            raise SpecError(f"{len(records)} completed past run(s) of {application!r} on {site!r}: "
                            f"too few to train on {self.min_samples} and hold out {n_test}", site=site,
                            fix="evaluate once more runs are recorded")
        order = np.random.default_rng(seed).permutation(len(records))
        train = [records[i] for i in order[:n_train]]
        test = [records[i] for i in order[n_train:]]
        model = _fit(train, lambda r: r.used_time_s, self.min_samples, self.seed)
        if model is None:  # pragma: no cover - n_train >= min_samples and used_time_s > 0
            raise SpecError(f"cannot fit a runtime model for {application!r} on {site!r}", site=site)
        p50, p90 = model.predict(features([r.size for r in test], [r.cores for r in test],
                                          [r.nodes for r in test]))
        actual = np.asarray([r.used_time_s for r in test], dtype=np.float64)
        errors = np.abs(actual - p50)
        return ModelReport(application=application, site=site, n_train=n_train, n_test=len(test),
                           mae_s=float(errors.mean()), mape=float((errors / actual).mean()),
                           p90_coverage=float((actual <= p90).mean()))

    def invalidate(self, application: str | None = None, site: str | None = None) -> None:
        """Forget cached models (all, or those of one application and/or site)."""
        with self._lock:
            for key in list(self._cache):
                if (application is None or key[0] == application) and (site is None or key[1] == site):
                    del self._cache[key]


__all__ = ["ModelReport", "Prediction", "Predictor", "QuantileModel",
           "features"]
