"""One predictor per project database per process.

A predictor keeps its fitted models and refits a pair only when its history changed; sharing
one per database lets every step of a workflow, and every workflow a worker runs, reuse them.
"""

from __future__ import annotations

import threading

from heroes_core.decision.metadata import MetadataStore
from heroes_core.decision.predict import Predictor
from heroes_core.store import Database

_lock = threading.Lock()
_shared: dict[str, Predictor] = {}


def shared_predictor(database: Database) -> Predictor:
    """This process's predictor over ``database`` (one per database URL)."""
    key = str(database.engine.url)
    with _lock:
        if key not in _shared:
            _shared[key] = Predictor(MetadataStore(database))
        return _shared[key]
