"""Prefect's block standard test suite over every HEROES block.

The logo URLs point at the project's documentation site, which this offline
machine cannot reach; ``urlopen`` is pointed at the packaged copies of the same
files so the suite checks the real images.
"""

from pathlib import Path
from urllib.parse import urlparse

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

import heroes.blocks
from heroes.blocks import (
    ApplicationCatalog,
    AWSAccount,
    CentralArchive,
    HeroesDatabase,
    HPCCentre,
    OCIAccount,
)
from heroes.blocks._common import LOGO_BASE_URL

LOGOS = Path(heroes.blocks.__file__).parent / "logos"


@pytest.fixture(autouse=True)
def packaged_logos(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.testing.standard_test_suites.blocks as suite

    def open_packaged(url: str):  # type: ignore[no-untyped-def]
        assert url.startswith(LOGO_BASE_URL), url
        return (LOGOS / Path(urlparse(url).path).name).open("rb")

    monkeypatch.setattr(suite, "urlopen", open_packaged)


# Every block the collection registers, found as `prefect block register -m heroes.blocks` finds them.
BLOCKS = [block for name in heroes.blocks.__all__
          if isinstance(block := getattr(heroes.blocks, name), type) and issubclass(block, Block)]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.__name__)
class TestAllBlocksAdhereToStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:
        return block


def test_every_block_is_registered_by_the_collection_entry_point() -> None:
    from importlib.metadata import entry_points
    (entry,) = [e for e in entry_points(group="prefect.collections") if e.name == "heroes"]
    assert entry.value == "heroes.blocks"
    module = entry.load()
    assert {HPCCentre, CentralArchive, HeroesDatabase, ApplicationCatalog, AWSAccount, OCIAccount} <= {getattr(module, name) for name in module.__all__}


def test_secrets_never_show_in_the_block_repr() -> None:
    centre = HPCCentre(host="h", user="svc", private_key="-----BEGIN KEY-----secret",  # type: ignore[arg-type]
                       work_root="/w")
    assert "secret" not in repr(centre)
    assert centre.site_config().private_key.get_secret_value().endswith("secret")
