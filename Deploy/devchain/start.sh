#!/usr/bin/env bash
# Start a dev chain in the background and wait until it answers eth_chainId.
#
#   Deploy/devchain/start.sh [--dir DIR] [--port P] [--chain-id N] [-- SERVER_ARGS...]
#
#   --dir DIR      state directory (default <repo>/.devnet/devchain): devchain.pid, devchain.port,
#                  ready.json, deployments.json, devchain.log. One directory per running chain.
#   --port P       TCP port on 127.0.0.1 (default 8545; 0 picks a free one, see devchain.port)
#   --chain-id N   chain id (default 1337)
#   SERVER_ARGS    passed to server.py (e.g. --no-automine, --inbox-signer 0x...)
#
# Prints "devchain: running pid=<pid> url=<url> chain_id=<id> deployments=<file>". When the
# chain of DIR already runs and answers, it says so and exits 0. Environment: DEVCHAIN_VENV,
# DEVCHAIN_START_TIMEOUT (seconds, default 60).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIR="$REPO/.devnet/devchain"
PORT=8545
CHAIN_ID=1337
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --chain-id) CHAIN_ID="$2"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
TIMEOUT="${DEVCHAIN_START_TIMEOUT:-60}"

VENV="$(bash "$HERE/setup.sh")"
PY="$VENV/bin/python"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
PIDFILE="$DIR/devchain.pid"
PORTFILE="$DIR/devchain.port"
READY="$DIR/ready.json"
DEPLOYMENTS="$DIR/deployments.json"
LOG="$DIR/devchain.log"

alive() {  # alive PID: a running (not zombie) process
  local state
  [[ -r "/proc/$1/stat" ]] || return 1
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]]
}

ask_chain_id() {  # ask_chain_id URL: prints the decimal chain id, fails when nobody answers
  "$PY" - "$1" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=5) as r:
    print(int(json.load(r)["result"], 16))
EOF
}

if [[ -f "$PIDFILE" ]]; then
  old="$(cat "$PIDFILE")"
  if alive "$old" && grep -qa "server.py" "/proc/$old/cmdline" 2>/dev/null; then
    if [[ -f "$PORTFILE" ]] && id="$(ask_chain_id "http://127.0.0.1:$(cat "$PORTFILE")" 2>/dev/null)"; then
      echo "devchain: already running pid=$old url=http://127.0.0.1:$(cat "$PORTFILE") chain_id=$id deployments=$DEPLOYMENTS"
      exit 0
    fi
    echo "devchain: pid $old of $DIR runs but does not answer; stop it first (stop.sh --dir $DIR)" >&2
    exit 1
  fi
  rm -f "$PIDFILE" "$PORTFILE" "$READY"
fi
rm -f "$READY"

started=$(date +%s.%N)
nohup "$PY" "$HERE/server.py" --port "$PORT" --chain-id "$CHAIN_ID" \
  --ready-file "$READY" --deployments "$DEPLOYMENTS" ${EXTRA[@]+"${EXTRA[@]}"} \
  >"$LOG" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$PIDFILE"

deadline=$(( $(date +%s) + TIMEOUT ))
while [[ ! -s "$READY" ]]; do
  if ! alive "$pid"; then
    echo "devchain: the server exited during start; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    rm -f "$PIDFILE"
    exit 1
  fi
  if (( $(date +%s) >= deadline )); then
    echo "devchain: not ready after ${TIMEOUT}s; stopping it; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    bash "$HERE/stop.sh" --dir "$DIR" >&2 || true
    exit 1
  fi
  sleep 0.1
done

port="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$READY")"
echo "$port" >"$PORTFILE"
url="http://127.0.0.1:$port"
if ! id="$(ask_chain_id "$url")" || [[ "$id" != "$CHAIN_ID" ]]; then
  echo "devchain: $url does not answer eth_chainId with $CHAIN_ID (got '${id:-nothing}'); stopping it" >&2
  bash "$HERE/stop.sh" --dir "$DIR" >&2 || true
  exit 1
fi
elapsed="$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
echo "devchain: running pid=$pid url=$url chain_id=$id deployments=$DEPLOYMENTS (ready in ${elapsed}s)"
