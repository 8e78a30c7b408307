"""Run a sample job on the local test bed and say where to look at it in the Prefect UI."""

from __future__ import annotations

import sys
from pathlib import Path

from heroes.blocks import CentralArchive
from heroes.blocks.defaults import DEFAULT_ARCHIVE
from heroes.flows import run_job
from heroes_core.models import ImageRef, JobSpec

# The testbed.json reader lives with the test bed, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent / "testbed"))
from testbed_config import read_testbed

ORGANISATION, USER = "demo", "scientist"


def main() -> None:
    testbed = read_testbed()
    centre = testbed["centres"][0]
    archive: CentralArchive = CentralArchive.load(DEFAULT_ARCHIVE)  # type: ignore[assignment]
    bucket = archive.ensure_bucket(ORGANISATION)
    archive.s3_client().put_object(Bucket=bucket, Key=f"{USER}/inputs/poem.txt",
                                   Body=b"the quick brown fox jumps over the lazy dog\n")
    spec = JobSpec(
        name="word-count", image=ImageRef(**centre["image"]), time_limit_minutes=5,
        command=["sh", "-c", "wc -w < inputs/poem.txt > words.txt; echo counted $(cat words.txt) words"],
        inputs=["inputs/poem.txt"],
    )
    state = run_job(spec=spec, centre=centre["name"], archive=DEFAULT_ARCHIVE,
                    organisation=ORGANISATION, user=USER, return_state=True)
    ui = testbed["prefect"]["api_url"].removesuffix("/api")
    flow_run_id = state.state_details.flow_run_id
    print(f"\nJob finished: {state.name}. See it in the Prefect UI: {ui}/runs/flow-run/{flow_run_id}")
    print(f"Outputs are in s3://{bucket}/{USER}/jobs/ at {testbed['s3']['endpoint']}")
    if not state.is_completed():
        raise SystemExit(1)


if __name__ == "__main__":
    main()
