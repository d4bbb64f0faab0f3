#!/usr/bin/env bash
# Process-level test of the devnet (issue: foundation). Asserts, on real processes and sockets:
#  - 4 validators = 24 processes; every /healthz and /readyz answers 200;
#  - each consensus-manager's /status lists its 3 peers and its 5 local services as connected;
#  - kill -9 of a local service turns its consensus-manager's /readyz red within 5 s, and green again
#    after a restart; kill -9 of a consensus-manager turns its local services' /readyz red within 5 s;
#  - `down` leaves no process and no listening port behind.
# Ends with a plain 'N passed, N failed' line.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
export DEVNET_DIR="$(mktemp -d /tmp/vn-devnet-test.XXXXXX)"
export DEVNET_BASE_PORT="${DEVNET_BASE_PORT:-$(( 20000 + RANDOM % 10000 ))}"
DEVNET="$REPO/Deploy/devnet.sh"
SERVICES=(consensus-manager tss-signer inbox-listener sandbox-executor bridge-adapter batch-proposer)
passed=0; failed=0

cleanup() {
  bash "$DEVNET" down >/dev/null 2>&1 || true
  # Belt and braces: nothing started by this test may survive it.
  for f in "$DEVNET_DIR"/pids/*.pid; do [ -e "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  rm -rf "$DEVNET_DIR"
}
trap cleanup EXIT

pid_alive() {  # exists and is not a zombie
  local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true; }
url() { bash "$DEVNET" url "$1" "$2"; }

# wait_code URL CODE SECONDS: true once URL answers CODE, false after SECONDS.
wait_code() {
  local deadline; deadline=$(( $(date +%s%N) / 1000000 + $3 * 1000 ))
  while [ $(( $(date +%s%N) / 1000000 )) -lt "$deadline" ]; do
    [ "$(code "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

status_ok() {  # the consensus-manager's /status lists 3 connected peers and 5 connected local services
  curl -s -m 2 "$(url "$1" consensus-manager)/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
peers = [p for p in s["peers"] if p["connected"]]
local = {l["service"] for l in s["local_services"] if l["connected"]}
want = {"tss-signer", "inbox-listener", "sandbox-executor", "bridge-adapter", "batch-proposer"}
ok = len(s["peers"]) == 3 and len(peers) == 3 and local == want
if not ok: print("status:", json.dumps(s)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)'
}

if ! bash "$DEVNET" up 4; then
  bad "devnet up 4"; tail -n 30 "$DEVNET_DIR"/logs/*.log; echo "$passed passed, $((failed)) failed"; exit 1
fi
ok "devnet up 4: every /readyz green"

procs=$(ls "$DEVNET_DIR"/pids/*.pid | wc -l)
check "24 processes started" [ "$procs" -eq 24 ]
alive=0; for f in "$DEVNET_DIR"/pids/*.pid; do pid_alive "$(cat "$f")" && alive=$((alive + 1)); done
check "24 processes alive" [ "$alive" -eq 24 ]

all200=true
for i in 0 1 2 3; do for s in "${SERVICES[@]}"; do
  u=$(url node$i "$s")
  [ "$(code "$u/healthz")" = 200 ] && [ "$(code "$u/readyz")" = 200 ] || { all200=false; echo "  node$i $s not 200"; }
done; done
check "every /healthz and /readyz answers 200" $all200

# Peers connect with backoff: give the mesh a few seconds to settle.
for i in 0 1 2 3; do
  settled=false
  for _ in $(seq 1 75); do status_ok node$i 2>/dev/null && { settled=true; break; }; sleep 0.2; done
  $settled || status_ok node$i
  check "node$i /status: 3 peers and 5 local services connected" $settled
done

# kill -9 a local service: its consensus-manager's /readyz goes red within 5 s, then recovers.
kill -KILL "$(cat "$DEVNET_DIR/pids/node1-tss-signer.pid")"
check "kill -9 tss-signer: node1 consensus-manager /readyz red within 5 s" \
  wait_code "$(url node1 consensus-manager)/readyz" 503 5
bash "$DEVNET" start node1 tss-signer
check "restarted tss-signer: node1 consensus-manager /readyz green again" \
  wait_code "$(url node1 consensus-manager)/readyz" 200 30
check "restarted tss-signer: its own /readyz green" wait_code "$(url node1 tss-signer)/readyz" 200 30

# kill -9 a consensus-manager: its local services' /readyz go red within 5 s, then recover.
kill -KILL "$(cat "$DEVNET_DIR/pids/node2-consensus-manager.pid")"
check "kill -9 consensus-manager: node2 batch-proposer /readyz red within 5 s" \
  wait_code "$(url node2 batch-proposer)/readyz" 503 5
bash "$DEVNET" start node2 consensus-manager
check "restarted consensus-manager: node2 batch-proposer /readyz green again" \
  wait_code "$(url node2 batch-proposer)/readyz" 200 30
check "restarted consensus-manager: its /readyz green again" \
  wait_code "$(url node2 consensus-manager)/readyz" 200 30
settled=false
for _ in $(seq 1 150); do status_ok node2 2>/dev/null && { settled=true; break; }; sleep 0.2; done
$settled || status_ok node2
check "restarted consensus-manager reconnected to 3 peers and 5 local services" $settled

ports=$(grep -hEo '127\.0\.0\.1:[0-9]+' "$DEVNET_DIR"/homes/node*/config/node.toml | cut -d: -f2 | sort -u)
pids=$(cat "$DEVNET_DIR"/pids/*.pid)
check "devnet down" bash "$DEVNET" down
left=0; for p in $pids; do pid_alive "$p" && left=$((left + 1)); done
check "no process left after down" [ "$left" -eq 0 ]
listening=0; for p in $ports; do ss -Hltn "sport = :$p" | grep -q . && listening=$((listening + 1)); done
check "no listening port left after down" [ "$listening" -eq 0 ]

echo "devnet: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
