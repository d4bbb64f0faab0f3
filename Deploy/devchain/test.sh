#!/usr/bin/env bash
# The dev chain's tests: set up the venv (setup.sh), then run pytest over tests/. Each test run
# starts its own servers on free loopback ports and stops them. Exit status: pytest's (non-zero
# on any failure, also when no test ran). Extra arguments go to pytest (e.g. -k fulfill).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$(bash "$HERE/setup.sh")"
cd "$HERE"
# No __pycache__ / .pytest_cache in the work tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
