#!/usr/bin/env bash
# Sets up a virtual environment (once) and runs the whole test suite: ruff, then pytest.
# CI runs exactly this (.ci/run). Extra arguments go to pytest, e.g. `bash tests/run.sh -k plan`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${WAN_VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || { echo "Python 3.10 or newer is needed (found $("$PYTHON" --version))" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
# torch first, pinned: this machine has a local CPU build of 2.13.0, and an unpinned torch would
# pull several GB of CUDA packages. Set WAN_TORCH to install another torch (e.g. "torch").
"${PIP[@]}" "${WAN_TORCH:-torch==2.13.0}"
"${PIP[@]}" -e ".[dev,models]"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
