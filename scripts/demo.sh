#!/usr/bin/env bash
# One command from a fresh machine to a finished HEROES job: install, bring the
# local test bed up, register the blocks, run a sample job end to end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

scripts/bootstrap.sh
scripts/testbed.sh up
api_url=$(.venv/bin/python scripts/testbed/testbed_config.py get prefect.api_url)
export PREFECT_API_URL="$api_url"
.venv/bin/prefect block register -m heroes.blocks
.venv/bin/python scripts/testbed/register_blocks.py
.venv/bin/python scripts/demo_job.py
