#!/usr/bin/env bash
# Recompile contracts/*.vy into contracts/build/*.json with the venv's Vyper 0.4.3.
#   Deploy/devchain/build_contracts.sh            rewrite the artifacts (commit them)
#   Deploy/devchain/build_contracts.sh --check    exit 1 when an artifact is stale
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$(bash "$HERE/setup.sh")"
PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" "$HERE/build_contracts.py" "$@"
