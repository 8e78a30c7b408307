"""Run a sample job on the local test bed the way a user does: log in, launch through the gateway.

The demo user (``scientist`` of organisation ``demo``, made by ``register_blocks.py``) logs in
to Keycloak, the input file is put in the archive, and ``run-job`` is launched through the
HEROES gateway's API; the gateway authorises it and the run executes under the demo user's
identity. It then says where to see the run: the Prefect UI through the gateway.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

from heroes.blocks import CentralArchive, KeycloakRealm
from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_KEYCLOAK_REALM
from heroes_core.identity import oidc
from heroes_core.models import ImageRef, JobSpec

# The test bed's own helpers live beside its scripts, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent / "testbed"))
from register_blocks import DEMO_ORGANISATION, DEMO_PROJECT, DEMO_USER, demo_password_path
from testbed_config import read_testbed

GATEWAY = os.environ.get("HEROES_GATEWAY_URL", "http://127.0.0.1:4300")
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def main() -> None:
    testbed = read_testbed()
    centre = testbed["centres"][0]
    # Users' own uploads come with the data module (presigned URLs); until then the demo puts
    # its input with the archive's keys.
    archive: CentralArchive = CentralArchive.load(DEFAULT_ARCHIVE)  # type: ignore[assignment]
    bucket = archive.ensure_bucket(DEMO_ORGANISATION)
    archive.s3_client().put_object(Bucket=bucket, Key=f"{DEMO_USER}/inputs/poem.txt",
                                   Body=b"the quick brown fox jumps over the lazy dog\n")
    spec = JobSpec(
        name="word-count", image=ImageRef(**centre["image"]), time_limit_minutes=5,
        command=["sh", "-c", "wc -w < inputs/poem.txt > words.txt; echo counted $(cat words.txt) words"],
        inputs=["inputs/poem.txt"],
    )
    realm: KeycloakRealm = KeycloakRealm.load(DEFAULT_KEYCLOAK_REALM)  # type: ignore[assignment]
    password = demo_password_path(testbed).read_text().strip()
    token = oidc.password_grant(realm.settings(), DEMO_USER, password).access_token
    with httpx.Client(base_url=GATEWAY, headers={"Authorization": f"Bearer {token}"}, timeout=60) as gateway:
        created = gateway.post("/v1/deployments/run-job/run-job/runs", json={
            "parameters": {"spec": spec.model_dump(mode="json"), "centre": centre["name"]},
            "project": DEMO_PROJECT, "name": f"word-count-{int(time.time())}"})
        if created.status_code != 201:
            raise SystemExit(f"the gateway refused the run ({created.status_code}): {created.text}")
        run = created.json()
        print(f"Launched run {run['name']} as {run['user']} of {run['organisation']}; waiting for it...")
        deadline = time.monotonic() + 600
        while run["state"] not in FINAL and time.monotonic() < deadline:
            time.sleep(2)
            run = gateway.get(f"/v1/runs/{run['id']}").json()
    print(f"\nJob finished: {run['state_name']}. See it in the Prefect UI through the gateway: "
          f"{GATEWAY}/runs/flow-run/{run['id']}")
    print(f"Log in there as '{DEMO_USER}' with the password in {demo_password_path(testbed)}.")
    print(f"Outputs are in s3://{bucket}/{DEMO_USER}/jobs/ at {testbed['s3']['endpoint']}")
    if run["state"] != "COMPLETED":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
