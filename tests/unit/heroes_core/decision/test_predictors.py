"""One predictor per database per process, so fitted models are reused between steps."""

from pathlib import Path

from heroes_core.decision.predictors import shared_predictor
from heroes_core.store import Database


def test_one_predictor_per_database(tmp_path: Path) -> None:
    first, second = (Database(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db"))
    same_as_first = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert shared_predictor(first) is shared_predictor(same_as_first)
        assert shared_predictor(first) is not shared_predictor(second)
    finally:
        for database in (first, second, same_as_first):
            database.dispose()
