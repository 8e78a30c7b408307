"""Blocks given by instance are used as they are; by name, they are loaded (synchronously)."""

from __future__ import annotations

import pytest

from heroes.blocks import HeroesDatabase
from heroes.tasks.resolve import load_block, load_database


def test_a_block_instance_is_used_as_it_is() -> None:
    block = HeroesDatabase(url="sqlite:///unused.db")
    assert load_block(HeroesDatabase, block) is block
    assert load_database(block) is block


def test_a_name_is_loaded_as_the_block_kind_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = HeroesDatabase(url="sqlite:///saved.db")
    asked: list[str] = []

    def load(name: str) -> HeroesDatabase:
        asked.append(name)
        return saved

    monkeypatch.setattr(HeroesDatabase, "load", load)
    assert load_database("prices") is saved and asked == ["prices"]


def test_anything_but_the_block_kind_is_a_programming_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def pending() -> None:
        return None

    coroutine = pending()
    monkeypatch.setattr(HeroesDatabase, "load", lambda name: coroutine)
    with pytest.raises(TypeError, match=r"HeroesDatabase\.load\('prices'\) gave a coroutine"):
        load_database("prices")
    coroutine.close()
