"""Integration tests run against the real local test bed (scripts/testbed.sh up).

If the test bed is not healthy the whole run fails: a real component that
cannot start is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The test bed's own Python helpers (testbed.json reader, block registration) are not part
# of the installed package; they live beside its scripts.
sys.path.insert(0, str(ROOT / "scripts" / "testbed"))

from testbed_config import read_testbed, testbed_file  # noqa: E402

if testbed_file().exists():  # Prefect reads its API URL when first used, so set it before any test.
    os.environ["PREFECT_API_URL"] = read_testbed()["prefect"]["api_url"]
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def testbed() -> dict[str, Any]:
    status = subprocess.run([str(ROOT / "scripts" / "testbed.sh"), "status"],
                            capture_output=True, text=True, check=False)
    if status.returncode != 0:
        pytest.fail(f"the test bed is not healthy (run scripts/testbed.sh up):\n{status.stdout}"
                    f"\n{status.stderr}", pytrace=False)
    return read_testbed()


@pytest.fixture(scope="session", autouse=True)
def archive_buckets(blocks: dict[str, str]) -> Iterator[None]:
    """Buckets this session creates (new organisations' and users') are deleted when it ends
    (tests/integration/buckets.py says why)."""
    from tests.integration.buckets import bucket_names, drop_bucket, s3_client

    client = s3_client()
    before = bucket_names(client)
    yield
    for bucket in sorted(bucket_names(client) - before):
        drop_bucket(client, bucket)


@pytest.fixture(scope="session")
def blocks(testbed: dict[str, Any]) -> dict[str, str]:
    from register_blocks import register_testbed_blocks  # imports Prefect: after the API URL is set
    return register_testbed_blocks()


@pytest.fixture(scope="session")
def keycloak(testbed: dict[str, Any]) -> dict[str, Any]:
    """The test bed's Keycloak: its ``testbed.json`` entry plus the bootstrap admin's password."""
    if "keycloak" not in testbed:
        pytest.fail("testbed.json has no keycloak entry: run scripts/testbed.sh up", pytrace=False)
    info: dict[str, Any] = dict(testbed["keycloak"])
    info["admin_password"] = Path(info["admin_password_path"]).read_text().strip()
    return info


@pytest.fixture(scope="session")
def centre_info(testbed: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = testbed["centres"][0]
    return info


@pytest.fixture
def site(blocks: dict[str, str]):  # type: ignore[no-untyped-def]
    from heroes.blocks import HPCCentre
    return HPCCentre.load("local-slurm").site()


@pytest.fixture
def control_base() -> Iterator[Path]:
    """A private directory for OpenSSH masters' sockets, with a short path (a Unix socket's is
    at most ~100 bytes); every master left in it is closed after (tests/integration/openssh.py)."""
    from tests.integration.openssh import close_masters

    path = Path(tempfile.mkdtemp(prefix="hs-", dir="/tmp"))
    yield path / "ssh"
    close_masters(path / "ssh")
    shutil.rmtree(path)


@pytest.fixture(scope="session")
def image(centre_info: dict[str, Any]) -> dict[str, str]:
    return dict(centre_info["image"])


@pytest.fixture
def user() -> str:
    """A fresh user per test, so archive and centre areas never collide."""
    return f"u{uuid.uuid4().hex[:10]}"


@pytest.fixture
def archive(blocks: dict[str, str]):  # type: ignore[no-untyped-def]
    from heroes.blocks import CentralArchive
    block = CentralArchive.load("heroes-archive")
    block.ensure_bucket("itest")
    return block


@pytest.fixture
def runner(blocks: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Prefect runner serving the HEROES deployments, as `python -m heroes.deployments`.

    It takes the names over (``--replace``) so a `prefect deploy` left in Prefect's
    database by anything earlier cannot change what these tests run.
    """
    from tests.integration.prefect_runner import serving  # Prefect reads its API URL on import

    with serving(tmp_path / "runner.log", "--replace") as proc:
        yield proc


@pytest.fixture(scope="module")
def tenants(keycloak: dict[str, Any], blocks: dict[str, str]) -> Iterator[Any]:
    """Two customer organisations and HEROES in a fresh realm (tests/integration/tenants.py), the
    customers each with a budget (their names are new, so the budgets are too)."""
    from decimal import Decimal

    from heroes.blocks import HeroesDatabase
    from tests.integration.tenants import tenants as made

    with made(keycloak, "itest-gw") as found:
        budgets = HeroesDatabase.load("heroes-database").budgets()
        for organisation in (found.organisations["acme"], found.organisations["umbrella"]):
            budgets.create(organisation, Decimal("100"), "EUR", hard=True)
        yield found


@pytest.fixture(scope="module")
def gateway(tenants: Any, testbed: dict[str, Any]) -> Iterator[Any]:
    """The gateway app for ``tenants``' realm in front of the test bed's Prefect, as a TestClient."""
    from fastapi.testclient import TestClient

    from heroes.gateway import GatewaySettings, create_app
    from tests.integration.grants import grant_key

    app = create_app(GatewaySettings(prefect_api_url=testbed["prefect"]["api_url"]),
                     keycloak=tenants.settings, verifier=tenants.settings.verifier(), grant_key=grant_key(),
                     data=data_service(), apps=apps_service())
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def module_runner(blocks: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """As ``runner``, for the tests of one module."""
    from tests.integration.prefect_runner import serving

    with serving(tmp_path_factory.mktemp("runner") / "runner.log", "--replace") as proc:
        yield proc


def data_service() -> Any:
    """Users' data through the test bed's archive and database blocks, as `heroes gateway` serves it."""
    from heroes.blocks import CentralArchive, HeroesDatabase
    from heroes_core.data import DataService, Quotas

    return DataService(CentralArchive.load("heroes-archive").archive(),
                       Quotas(HeroesDatabase.load("heroes-database").database()))


def apps_service() -> Any:
    """The application catalogue in the test bed's database, its images in the test bed's archive."""
    from heroes.blocks import HeroesDatabase
    from heroes_core.catalog import ApplicationCatalogue
    from heroes_core.catalog.service import ApplicationService

    data = data_service()
    return ApplicationService(ApplicationCatalogue(HeroesDatabase.load("heroes-database").database()),
                              data.archive, data)


@pytest.fixture
def sdk(live_gateway: str, tenants: Any) -> Iterator[Any]:
    """``sdk(user)``: a HeroesClient (the Python SDK) for a user of ``tenants``, on the live gateway."""
    from heroes.client import HeroesClient

    made: list[HeroesClient] = []

    def of(user: str) -> HeroesClient:
        made.append(HeroesClient(live_gateway, tenants.token(user)))
        return made[-1]

    yield of
    for each in made:
        each.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def live_gateway(tenants: Any, testbed: dict[str, Any]) -> Iterator[str]:
    """The gateway for ``tenants``' realm served by uvicorn on a free loopback port; its base URL."""
    import uvicorn

    from heroes.gateway import GatewaySettings, create_app
    from tests.integration.grants import grant_key

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(GatewaySettings(prefect_api_url=testbed["prefect"]["api_url"], public_url=base),
                     keycloak=tenants.settings, verifier=tenants.settings.verifier(), grant_key=grant_key(),
                     data=data_service(), apps=apps_service())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.1)
    yield base
    server.should_exit = True
    thread.join(timeout=30)
