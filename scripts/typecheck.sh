#!/usr/bin/env bash
# mypy --strict over the packages named by [tool.mypy] in pyproject.toml: the domain core and
# the Prefect layer. Extra arguments go to mypy.
#
# setuptools installs blocks/, tasks/, flows/ and deployments/ as heroes.blocks, heroes.tasks, ...
# through package-dir, which mypy cannot follow in an editable install. A tree of relative
# symbolic links, build/mypy-path/heroes/<part> -> <part>, shows mypy the installed layout
# (pyproject.toml's mypy_path points at it); it is refreshed on every run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

tree=build/mypy-path
mkdir -p "$tree/heroes"
: >"$tree/heroes/__init__.py"
for part in blocks tasks flows deployments cli gateway client workers; do
    # -n replaces an existing link instead of creating one inside the directory it points to
    ln -sfn "../../../$part" "$tree/heroes/$part"
done

# Errors name the files as they are in the repository, not through the links.
.venv/bin/mypy "$@" | sed "s#^$tree/heroes/##"
