"""Register the local test bed as blocks and seed its prices and budgets.

``scripts/testbed.sh up`` writes what it started into ``testbed.json``; this turns that
into the blocks a provider admin would create for a real centre (centres, archive,
database, application catalogue, the grant key), so the demo and the integration tests use the
production code paths. It also gives every test-bed partition a price and each test-bed
organisation a budget. Test-bed only, so it stays out of the installed package:
``python scripts/testbed/register_blocks.py``, or ``register_testbed_blocks()`` with this
folder on ``sys.path``.

Run as a script (the demo does), it also provisions the demo's identity in the test bed's
Keycloak: the realm ``heroes`` (and its ``KeycloakRealm`` block, the name the ``heroes``
command and gateway use by default), the organisation ``demo`` with a project ``demo``, and
an engineer ``scientist`` whose password is made once and kept beside Keycloak's admin
password. The integration tests make realms of their own and never use it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from prefect.blocks.system import Secret
from pydantic import SecretStr
from testbed_config import read_testbed

from heroes.blocks import ApplicationCatalog, CentralArchive, HeroesDatabase, HPCCentre, KeycloakRealm
from heroes.blocks.defaults import (
    DEFAULT_ARCHIVE,
    DEFAULT_CATALOG,
    DEFAULT_DATABASE,
    DEFAULT_GRANT_KEY,
    DEFAULT_KEYCLOAK_REALM,
)
from heroes_core.catalog import Application
from heroes_core.costs import PriceModel, PriceNotFoundError, partition_offering_name
from heroes_core.costs.metering import STORAGE_OFFERING, TRANSFER_OFFERING
from heroes_core.energy import ANY_PARTITION, PowerModel
from heroes_core.identity import IdentityAdmin, KeycloakSettings, Role
from heroes_core.sites import PartitionGPUs

TEST_BED_ORGANISATIONS = ("demo", "itest", "bench")
DEMO_REALM, DEMO_ORGANISATION, DEMO_PROJECT, DEMO_USER = "heroes", "demo", "demo", "scientist"
# An illustrative business model for the test bed's partitions: 1 cent per job + 5 cents per core-hour.
TEST_BED_PRICE = PriceModel(currency="EUR", fixed=Decimal("0.01"), per_core_hour=Decimal("0.05"))
# The archive's (provider: the CentralArchive block's name): 2 cents per GB-month stored, 1 cent
# per GB transferred (GB = 10^9 bytes), metered by the meter-data-usage flow.
# The power model the test bed's provider declares for its partitions: what a job's energy is
# modelled from where neither EAR nor Slurm measured it.
TEST_BED_POWER = PowerModel(idle_watts_per_node=40.0, watts_per_core=12.0, pue=1.3)
TEST_BED_ARCHIVE_PRICES = {
    "storage": PriceModel(currency="EUR", per_gb_month=Decimal("0.02")),
    "transfer": PriceModel(currency="EUR", per_gb_transferred=Decimal("0.01")),
}


def centre_block(centre: dict[str, Any]) -> HPCCentre:
    return HPCCentre(
        host=centre["host"], port=centre["port"], user=centre["user"],
        private_key=Path(centre["private_key_path"]).read_text(),  # type: ignore[arg-type]
        host_key=centre["host_key"], partitions=centre["partitions"],
        default_partition=centre["partitions"][0], work_root=centre["work_root"],
        container_runtime="charliecloud", max_cores_per_job=4, max_time_limit_minutes=60,
        image_roots=(str(PurePosixPath(centre["image"]["path"]).parent),),
        power_models={ANY_PARTITION: TEST_BED_POWER},
        # written by an `up` that knew GPUs; an older testbed.json declares none
        gpus={name: PartitionGPUs.model_validate(gpus) for name, gpus in centre.get("gpus", {}).items()},
    )


def archive_block(s3: dict[str, Any]) -> CentralArchive:
    return CentralArchive(endpoint_url=s3["endpoint"], access_key_id=s3["access_key"],
                          secret_access_key=s3["secret_key"], region=s3["region"])


def catalog_block(testbed: dict[str, Any]) -> ApplicationCatalog:
    """The test bed's one application: the busybox image, published on every centre."""
    centres = testbed["centres"]
    return ApplicationCatalog(applications=[Application(
        name="busybox", version="1", digest=centres[0]["image"]["digest"],
        images={centre["name"]: centre["image"]["path"] for centre in centres})])


def seed_prices_and_budgets(database: HeroesDatabase, testbed: dict[str, Any]) -> None:
    """Give every test-bed partition and the archive's storage and transfers a price, and each
    test-bed organisation a budget (once)."""
    budgets = database.budgets()
    prices = budgets.prices
    now = datetime.now(UTC)
    for centre in testbed["centres"]:
        prices.register_provider(centre["name"], f"test bed centre {centre['name']}", "resource")
        for partition in centre["partitions"]:
            offering = prices.offering(centre["name"], "partition",
                                       partition_offering_name(centre["name"], partition),
                                       site=centre["name"])
            try:
                prices.price_at(offering, now)
            except PriceNotFoundError:
                prices.publish(centre["name"], offering, TEST_BED_PRICE, valid_from=now, now=now)
    # From the start of last month, so that yesterday's storage has a price on a fresh test bed
    # (a real provider's prices only ever start from now on).
    since = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)).replace(day=1)
    prices.register_provider(DEFAULT_ARCHIVE, "test bed central archive", "resource")
    for kind, model in TEST_BED_ARCHIVE_PRICES.items():
        offering = prices.offering(DEFAULT_ARCHIVE, kind, STORAGE_OFFERING if kind == "storage"
                                   else TRANSFER_OFFERING, site=DEFAULT_ARCHIVE)
        try:
            prices.price_at(offering, since)
        except PriceNotFoundError:
            prices.publish(DEFAULT_ARCHIVE, offering, model, valid_from=since, now=since)
    for organisation in TEST_BED_ORGANISATIONS:
        if not budgets.budgets_of(organisation):
            budgets.create(organisation, Decimal("10000"), "EUR", hard=True)


def ensure_grant_key(name: str = DEFAULT_GRANT_KEY) -> None:
    """A random grant key in a Secret block, made once: a new key would void grants in flight."""
    try:
        Secret.load(name)
    except ValueError:
        Secret(value=SecretStr(secrets.token_urlsafe(48))).save(name)


def register_testbed_blocks(path: Path | None = None) -> dict[str, str]:
    """Save the test bed's centres, archive, database and catalogue as blocks; seed prices and budgets."""
    testbed = read_testbed(path)
    saved: dict[str, str] = {}
    for centre in testbed["centres"]:
        centre_block(centre).save(centre["name"], overwrite=True)
        saved[centre["name"]] = "HPCCentre"
    archive_block(testbed["s3"]).save(DEFAULT_ARCHIVE, overwrite=True)
    saved[DEFAULT_ARCHIVE] = "CentralArchive"
    database = HeroesDatabase(url=testbed["postgres"]["url"])
    database.save(DEFAULT_DATABASE, overwrite=True)
    saved[DEFAULT_DATABASE] = "HeroesDatabase"
    seed_prices_and_budgets(database, testbed)
    catalog_block(testbed).save(DEFAULT_CATALOG, overwrite=True)
    saved[DEFAULT_CATALOG] = "ApplicationCatalog"
    ensure_grant_key()
    saved[DEFAULT_GRANT_KEY] = "Secret"
    return saved


def demo_password_path(testbed: dict[str, Any]) -> Path:
    """Where the demo user's password is kept (beside Keycloak's bootstrap admin password)."""
    return Path(testbed["keycloak"]["admin_password_path"]).with_name("demo-user-password")


def ensure_demo_identity(path: Path | None = None) -> tuple[str, str]:
    """The demo realm, organisation, project and user; the KeycloakRealm block naming them.

    Returns the demo user's name and password (made once: a second run keeps it).
    """
    testbed = read_testbed(path)
    keycloak = testbed["keycloak"]
    admin_password = SecretStr(Path(keycloak["admin_password_path"]).read_text().strip())
    settings = KeycloakSettings(server_url=keycloak["url"], realm=DEMO_REALM,
                                admin_realm=keycloak["admin_realm"], admin_user=keycloak["admin_user"],
                                admin_password=admin_password)
    KeycloakRealm(**settings.model_dump()).save(DEFAULT_KEYCLOAK_REALM, overwrite=True)
    password_file = demo_password_path(testbed)
    if not password_file.exists():
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(18))
    password = password_file.read_text().strip()
    admin = IdentityAdmin(settings)
    admin.ensure_realm(direct_access_grants=True)  # so that scripts may log in with a password
    admin.ensure_organisation(DEMO_ORGANISATION)
    admin.ensure_project(DEMO_ORGANISATION, DEMO_PROJECT)
    admin.ensure_user(DEMO_ORGANISATION, DEMO_USER, roles=[Role.ENGINEER], projects=[DEMO_PROJECT],
                      email=f"{DEMO_USER}@{DEMO_ORGANISATION}.example", first_name="Demo",
                      last_name="Scientist", password=SecretStr(password))
    return DEMO_USER, password


if __name__ == "__main__":
    for name, kind in register_testbed_blocks().items():
        print(f"registered {kind} block '{name}'")
    user, _ = ensure_demo_identity()
    print(f"registered KeycloakRealm block '{DEFAULT_KEYCLOAK_REALM}' (realm '{DEMO_REALM}', user "
          f"'{user}' of organisation '{DEMO_ORGANISATION}')")
