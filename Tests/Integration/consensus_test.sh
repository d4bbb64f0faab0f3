#!/usr/bin/env bash
# Process-level test of the consensus engine (issue 5): 4 consensus-managers on loopback (homes from
# `consensus-manager testnet`, short timeouts through VN_CONSENSUS_* variables) commit blocks with
# transactions of the test application; kill -9 of one → the others go on; restarted, it catches
# up; two of four killed → no progress; one returns → progress resumes; at the end every node has
# the same block hash at every common height. Always cleans up (processes, ports, temp dir).
#
#   Tests/Integration/consensus_test.sh            (binaries from `swift build --show-bin-path`)
#   CONSENSUS_BIN=path/to/bin Tests/Integration/consensus_test.sh
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${CONSENSUS_BIN:-$(cd "$REPO" && swift build --show-bin-path)}"
CM="$BIN/consensus-manager"
[ -x "$CM" ] || { echo "consensus_test: missing $CM (run: make build)" >&2; exit 1; }
DIR="$(mktemp -d -t vn-consensus-test.XXXXXX)"
PIDS=()

log() { echo "consensus_test: $*"; }
pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
kill9() {
  local pid; pid=$(cat "$DIR/node$1.pid")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
  rm -f "$DIR/node$1.pid"
}

cleanup() {
  local code=$?
  for i in 0 1 2 3; do [ -f "$DIR/node$i.pid" ] && kill9 "$i"; done
  # No port of the test may stay open.
  for port in $(grep -Eho '127\.0\.0\.1:[0-9]+' "$DIR"/homes/node*/config/node.toml 2>/dev/null | cut -d: -f2 | sort -u); do
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then echo "consensus_test: port $port still open" >&2; code=1; fi
  done
  if [ $code -ne 0 ]; then
    log "FAILED (exit $code); last log lines:"
    for i in 0 1 2 3; do echo "--- node$i"; tail -n 15 "$DIR/node$i.log" 2>/dev/null || true; done
  fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$DIR"; else log "kept $DIR"; fi
  exit $code
}
trap cleanup EXIT INT TERM

fail() { echo "consensus_test: FAIL: $*" >&2; exit 1; }

# Homes on a free port range.
base=$(( 21000 + RANDOM % 8000 ))
until "$CM" testnet --validators 4 --output "$DIR/homes" --chain-id vn-consensus-test --host 127.0.0.1 \
    --base-port "$base" --force > "$DIR/testnet.log" 2>&1; do
  base=$(( 21000 + RANDOM % 8000 ))
done

toml_get() {
  awk -v sec="[$2]" -v key="$3" '
    /^\[/ { insec = ($0 == sec) ; next }
    insec && $1 == key { sub(/^[^=]*=[ \t]*/, ""); gsub(/"/, ""); sub(/[ \t]*#.*$/, ""); print; exit }
  ' "$1"
}
url() { echo "http://$(toml_get "$DIR/homes/node$1/config/node.toml" consensus http_listen)"; }

export VN_CONSENSUS_TIMEOUT_PROPOSE_MS=500 VN_CONSENSUS_TIMEOUT_PROPOSE_DELTA_MS=100
export VN_CONSENSUS_TIMEOUT_PREVOTE_MS=200 VN_CONSENSUS_TIMEOUT_PREVOTE_DELTA_MS=50
export VN_CONSENSUS_TIMEOUT_PRECOMMIT_MS=200 VN_CONSENSUS_TIMEOUT_PRECOMMIT_DELTA_MS=50
export VN_CONSENSUS_TIMEOUT_COMMIT_MS=100 VN_CONSENSUS_GOSSIP_INTERVAL_MS=100
export VN_CONSENSUS_DIAL_BACKOFF_MIN_MS=100 VN_CONSENSUS_DIAL_BACKOFF_MAX_MS=500
export VN_CONSENSUS_PEER_PING_INTERVAL_MS=1000 VN_CONSENSUS_PEER_TIMEOUT_MS=3000
export VN_NODE_LOG_LEVEL=notice

# Started from a subshell, so the shell does not report the kill -9s as job events.
start() {
  (setsid "$CM" start --home "$DIR/homes/node$1" >>"$DIR/node$1.log" 2>&1 < /dev/null & echo $! > "$DIR/node$1.pid")
}

# The committed height of node $1 (-1 when it does not answer).
height() {
  curl -s -m 2 "$(url "$1")/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["consensus"]["height"])' \
    2>/dev/null || echo -1
}
min_height() { local m=""; for i in "$@"; do h=$(height "$i"); [ -z "$m" ] || [ "$h" -lt "$m" ] && m=$h; done; echo "$m"; }
max_height() { local m=-1; for i in "$@"; do h=$(height "$i"); [ "$h" -gt "$m" ] && m=$h; done; echo "$m"; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
  local what="$1" limit="$2"; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "not reached within ${limit}s: $what"
    sleep 0.2
  done
}
at_least() { local target="$1"; shift; [ "$(min_height "$@")" -ge "$target" ]; }

SECONDS=0
for i in 0 1 2 3; do start "$i"; done
wait_for "4 nodes at height 3" 60 at_least 3 0 1 2 3
log "4 validators commit blocks (height $(min_height 0 1 2 3) after ${SECONDS}s)"

"$CM" tx --home "$DIR/homes/node0" --count 30 --prefix a > "$DIR/tx0.out"
"$CM" tx --home "$DIR/homes/node2" --count 30 --prefix b > "$DIR/tx2.out"
[ "$(wc -l < "$DIR/tx0.out")" -eq 30 ] || fail "node0 did not answer 30 tx hashes"
committed_txs() {
  curl -s -m 2 "$(url "$1")/blocks" | python3 -c 'import json,sys; print(sum(b["txs"] for b in json.load(sys.stdin)["blocks"]))' \
    2>/dev/null || echo 0
}
all_txs() { for i in 0 1 2 3; do [ "$(committed_txs "$i")" -ge 60 ] || return 1; done; }
wait_for "60 transactions committed on every node" 30 all_txs
log "60 transactions committed on all 4 nodes"

kill9 3
h=$(min_height 0 1 2)
wait_for "3 nodes go on after kill -9 of node3" 30 at_least $(( h + 5 )) 0 1 2
log "node3 killed at height $h; the other 3 reached $(min_height 0 1 2)"

start 3
target=$(( $(min_height 0 1 2) + 2 ))
wait_for "node3 catches up" 60 at_least "$target" 3
log "node3 restarted and caught up to $(height 3)"

kill9 2
kill9 3
sleep 1
stalled=$(max_height 0 1)
sleep 3
later=$(max_height 0 1)
[ "$later" -le "$stalled" ] || fail "progress without a quorum: $stalled -> $later"
log "two of four killed: stalled at $stalled"

start 2
wait_for "progress resumes with 3 of 4" 60 at_least $(( stalled + 3 )) 0 1 2
log "node2 back: progress resumed to $(min_height 0 1 2)"
start 3
wait_for "node3 catches up again" 60 at_least "$(min_height 0 1 2)" 3

# Safety: the same hash at every common height.
for i in 0 1 2 3; do curl -s -m 5 "$(url "$i")/blocks" > "$DIR/blocks$i.json"; done
python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
chains = [{b["height"]: b["hash"] for b in json.load(open(f"{d}/blocks{i}.json"))["blocks"]} for i in range(4)]
common = set.intersection(*(set(c) for c in chains))
assert len(common) >= 10, f"only {len(common)} common heights"
for h in sorted(common):
    hashes = {c[h] for c in chains}
    assert len(hashes) == 1, f"fork at height {h}: {hashes}"
print(f"consensus_test: {len(common)} common heights, one hash each")
PY
log "PASS in ${SECONDS}s"
