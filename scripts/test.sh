#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, bring the test bed up,
# lint, type-check, then run unit and integration tests. Extra arguments go to pytest.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

scripts/bootstrap.sh
scripts/testbed.sh up
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -ra "$@"
