#!/usr/bin/env bash
# Stop the dev chain started by start.sh with the same --dir, and wait until it is gone.
#
#   Deploy/devchain/stop.sh [--dir DIR]     (default <repo>/.devnet/devchain)
#
# SIGTERM first (the server closes its port and exits), SIGKILL after DEVCHAIN_STOP_TIMEOUT
# seconds (default 10). Removes devchain.pid, devchain.port and ready.json; keeps the log and
# deployments.json. Exits 0 when nothing runs (any more).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIR="$REPO/.devnet/devchain"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "stop.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
TIMEOUT="${DEVCHAIN_STOP_TIMEOUT:-10}"
PIDFILE="$DIR/devchain.pid"

alive() {
  local state
  [[ -r "/proc/$1/stat" ]] || return 1
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]]
}

cleanup() { rm -f "$PIDFILE" "$DIR/devchain.port" "$DIR/ready.json"; }

if [[ ! -f "$PIDFILE" ]]; then
  echo "devchain: not running ($DIR)"
  cleanup
  exit 0
fi
pid="$(cat "$PIDFILE")"
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! alive "$pid"; then
  echo "devchain: not running ($DIR)"
  cleanup
  exit 0
fi
if ! grep -qa "server.py" "/proc/$pid/cmdline" 2>/dev/null; then
  echo "devchain: pid $pid is not a dev chain server (stale pid file); leaving it alone" >&2
  cleanup
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$(( $(date +%s) + TIMEOUT ))
while alive "$pid"; do
  if (( $(date +%s) >= deadline )); then
    echo "devchain: pid $pid ignored SIGTERM for ${TIMEOUT}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    cleanup
    echo "devchain: killed pid=$pid"
    exit 0
  fi
  sleep 0.05
done
cleanup
echo "devchain: stopped pid=$pid"
