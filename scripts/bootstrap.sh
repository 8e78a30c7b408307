#!/usr/bin/env bash
# Create .venv and install HEROES with its development tools (and shellcheck). Idempotent: it
# reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: Python 3.11 or newer is needed as python3" >&2
  exit 1
fi
# System packages, installed only when missing: python3-venv, shellcheck (scripts/test.sh).
missing=()
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if ((${#missing[@]})); then
  apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# A venv without a working pip (its creation was interrupted) is made again.
.venv/bin/python -m pip --version >/dev/null 2>&1 || python3 -m venv --clear .venv

stamp=.venv/.heroes-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
echo "bootstrap: .venv ready ($(.venv/bin/python -c 'import prefect; print("prefect", prefect.__version__)'))"
