#!/usr/bin/env bash
# Create (or update) the dev chain's Python venv and install the pinned packages.
#
#   Deploy/devchain/setup.sh            venv at <repo>/.venv-devchain (DEVCHAIN_VENV overrides)
#
# Idempotent: when the venv already holds exactly requirements.txt (a stamp with its SHA-256),
# it returns at once. PYTHON picks the interpreter that creates the venv (default python3).
# Prints the venv path on stdout; progress goes to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${DEVCHAIN_VENV:-$REPO/.venv-devchain}"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

want="$(sha256sum "$REQ" | cut -d' ' -f1)"

up_to_date() {
  [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
    "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

if up_to_date; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$(dirname "$VENV")"
# One installer at a time (tests and scripts may call this concurrently); the lock lives outside
# the repository.
exec 9>"${TMPDIR:-/tmp}/vn-devchain-setup-$(printf '%s' "$VENV" | sha256sum | cut -c1-16).lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if up_to_date; then
  echo "$VENV"
  exit 0
fi

started=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$VENV"
  echo "devchain setup: creating $VENV with $PYTHON" >&2
  if ! "$PYTHON" -m venv "$VENV" >&2; then
    # Debian's own python3 needs python3-venv for this.
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      echo "devchain setup: installing python3-venv" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
      rm -rf "$VENV"
      "$PYTHON" -m venv "$VENV" >&2
    else
      echo "devchain setup: '$PYTHON -m venv' failed; install python3-venv" >&2
      exit 1
    fi
  fi
fi

echo "devchain setup: installing pinned packages (about 30 s the first time)" >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQ" >&2
"$VENV/bin/python" -c 'import eth, eth_tester, eth_account, eth_abi, vyper, coincurve, pytest, web3' >&2
echo "$want" >"$STAMP"
echo "devchain setup: ready in $(( $(date +%s) - started ))s" >&2
echo "$VENV"
