#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, bring the test bed up, shellcheck,
# lint, type-check, check the import layers, then run unit and integration tests with a coverage
# report. Extra arguments go to pytest.
# --unit (first argument): the fast lane, no test bed and only tests/unit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

unit=0
if [[ "${1:-}" == --unit ]]; then
    unit=1
    shift
fi

scripts/bootstrap.sh
((unit)) || scripts/testbed.sh up
# Every shell script of the repo: files whose first line is a #! naming a shell, and files
# only sourced, which name their shell on their first line (`# shellcheck shell=bash`).
mapfile -t shell_scripts < <(find . \( -name .git -o -name .venv \) -prune -o -type f \
    -exec awk 'FNR == 1 && /^(#!.*sh|# shellcheck shell=)/ { print FILENAME } { nextfile }' {} +)
shellcheck "${shell_scripts[@]}"
.venv/bin/ruff check .
scripts/typecheck.sh  # mypy --strict over heroes_core and heroes.* (see the script)
.venv/bin/lint-imports  # the layering contract in pyproject.toml
# A coverage table (files not fully covered, sorted by coverage) follows the test results.
coverage=(--cov --cov-report=term)
if ((unit)); then
    .venv/bin/python -m pytest -ra "${coverage[@]}" tests/unit "$@"
else
    .venv/bin/python -m pytest -ra "${coverage[@]}" "$@"
fi
