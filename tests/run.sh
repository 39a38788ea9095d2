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
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
