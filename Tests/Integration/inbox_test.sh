#!/usr/bin/env bash
# inbox-listener against two real EVM dev chains and a 1-validator node (issue 6 acceptance):
#
#   1. two dev chains (py-evm, Deploy/devchain) with different chain ids, a 1-validator devnet
#      (Deploy/devnet.sh: 6 processes) whose inbox-listener reads both chains;
#   2. 500 Inbox.request transactions across both chains; the inbox-listener is killed with
#      SIGKILL mid-stream and restarted;
#      then the consensus-manager is stopped and started again (the listener holds and resends);
#   2b. chain B, reached through a proxy (Tests/Integration/rpc_proxy.py), answers garbage, then
#      times out, then goes away while requests keep coming, then comes back: /readyz names the
#      chain and the failure each time, the log says so, and the requests sent meanwhile arrive;
#   3. a forced reorg on the first chain: evm_snapshot, requests asking for more confirmations
#      than will ever be mined on that branch, evm_revert, different requests under the same ids
#      (other params), then blocks past their confirmations;
#   4. checks, through the consensus-manager's GET /inbox/requests: every canonical request
#      (read back with eth_getLogs) is there exactly once with its canonical params and block,
#      nothing else is (no orphaned body), no conflict was counted.
#
# Environment: INBOX_TEST_DIR (default <repo>/.devnet/inbox-test), INBOX_TEST_BASE_PORT (default 27600,
# below the ephemeral range and apart from the devnet test's 26600), DEVNET_BIN (the binaries,
# default: the debug build's bin path), INBOX_TEST_COUNT (default 500).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${INBOX_TEST_DIR:-$REPO/.devnet/inbox-test}"
BASE_PORT="${INBOX_TEST_BASE_PORT:-27600}"
COUNT="${INBOX_TEST_COUNT:-500}"
PY="$REPO/.venv-devchain/bin/python"
CHAIN_A=31401
CHAIN_B=31402
CONFIRMATIONS=2
REORG_COUNT=5
OUTAGE_COUNT=20
PROXY_PORT=$(( BASE_PORT + 50 ))
proxy_pid=""
started=$(date +%s)

say() { echo "inbox-test: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

[ -x "$PY" ] || bash "$REPO/Deploy/devchain/setup.sh" >&2
export DEVNET_DIR="$DIR/devnet" DEVNET_BASE_PORT="$BASE_PORT" DEVNET_CHAIN_ID="vn-inbox-test"
export DEVNET_BIN="${DEVNET_BIN:-$(cd "$REPO" && swift build --show-bin-path)}"
[ -x "$DEVNET_BIN/inbox-listener" ] || die "missing binaries in $DEVNET_BIN (run: make build)"

teardown() {
  local rc=$?
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; fi
  # The chains first: devnet.sh down checks that no port named in node.toml still listens.
  for c in a b; do bash "$REPO/Deploy/devchain/stop.sh" --dir "$DIR/chain-$c" >&2 || true; done
  bash "$REPO/Deploy/devnet.sh" down >&2 || rc=1
  if [ $rc -ne 0 ]; then
    say "logs kept in $DIR (devnet/logs, chain-*/devchain.log)"
    tail -n 30 "$DIR/devnet/logs/node0-inbox-listener.log" >&2 2>/dev/null || true
  fi
  exit $rc
}
trap teardown EXIT

rm -rf "$DIR"; mkdir -p "$DIR"
bash "$REPO/Deploy/devnet.sh" down >/dev/null 2>&1 || true

# --- 1. two chains, one node ----------------------------------------------------------------
for c in a b; do
  id=$CHAIN_A; [ $c = b ] && id=$CHAIN_B
  bash "$REPO/Deploy/devchain/start.sh" --dir "$DIR/chain-$c" --port 0 --chain-id $id -- --quiet >&2
done
url_a="http://127.0.0.1:$(cat "$DIR/chain-a/devchain.port")"
url_b="http://127.0.0.1:$(cat "$DIR/chain-b/devchain.port")"
inbox_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["contracts"]["Inbox"]["address"])' "$1"; }
inbox_a=$(inbox_of "$DIR/chain-a/deployments.json")
inbox_b=$(inbox_of "$DIR/chain-b/deployments.json")
proxy_b="http://127.0.0.1:$PROXY_PORT"
start_proxy() {
  echo pass >"$DIR/proxy.mode"
  "$PY" "$REPO/Tests/Integration/rpc_proxy.py" --port $PROXY_PORT --upstream "$url_b" \
    --mode-file "$DIR/proxy.mode" >"$DIR/proxy.out" 2>&1 &
  proxy_pid=$!
  for _ in $(seq 1 50); do grep -q READY "$DIR/proxy.out" 2>/dev/null && return 0; sleep 0.1; done
  die "the proxy did not start"
}
start_proxy

bash "$REPO/Deploy/devnet.sh" up 1 >&2
home="$DIR/devnet/homes/node0"
cm_url=$(bash "$REPO/Deploy/devnet.sh" url node0 consensus-manager)
il_url=$(bash "$REPO/Deploy/devnet.sh" url node0 inbox-listener)
# A single validator's consensus-manager is ready with its 5 local services attached.
curl -sf "$cm_url/readyz" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
local = [c for c in r["checks"] if c["name"].startswith("local:")]
assert r["status"] == "ok" and len(local) == 5 and all(c["ok"] for c in local), r
' || die "the consensus-manager is not ready with its 5 local services"

# The chains go into node.toml; the inbox-listener restarts to read them. The second endpoint of
# chain A is a dead port first: failover must carry on.
bash "$REPO/Deploy/devnet.sh" stop node0 inbox-listener
cat >>"$home/config/node.toml" <<TOML

[[inbox.chains]]
chain_id = $CHAIN_A
rpc = ["http://127.0.0.1:1", "$url_a"]
inbox = "$inbox_a"
start_block = 0
poll_interval_ms = 200

[[inbox.chains]]
chain_id = $CHAIN_B
rpc = ["$proxy_b"]
inbox = "$inbox_b"
poll_interval_ms = 200
TOML
bash "$REPO/Deploy/devnet.sh" start node0 inbox-listener

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$(( $(date +%s) + $1 )) what="$2"; shift 2
  until "$@"; do [ "$(date +%s)" -lt $deadline ] || die "timed out waiting for $what"; sleep 0.3; done
}
il_ready() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$il_url/readyz")" = 200 ]; }
wait_for 60 "the inbox-listener's /readyz" il_ready
say "node ready, chains $CHAIN_A ($url_a) and $CHAIN_B ($url_b)"

accepted() { curl -sf -m 2 "$cm_url/status" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["inbox"]["accepted"])'; }

# --- 2. 500 requests, kill -9 mid-stream ---------------------------------------------------------
half=$(( COUNT / 2 ))
"$PY" "$REPO/Deploy/devchain/make_requests.py" --url "$url_a" --count $half --confirmations $CONFIRMATIONS \
  --tag stream-a --deployments-from-rpc >"$DIR/requests-a.jsonl" &
gen_a=$!
"$PY" "$REPO/Deploy/devchain/make_requests.py" --url "$url_b" --count $(( COUNT - half )) \
  --confirmations $CONFIRMATIONS --tag stream-b --deployments-from-rpc >"$DIR/requests-b.jsonl" &
gen_b=$!

some_accepted() { [ "$(accepted 2>/dev/null || echo 0)" -ge 40 ]; }
wait_for 90 "the first forwarded requests" some_accepted
before_kill=$(accepted)
kill -KILL "$(cat "$DIR/devnet/pids/node0-inbox-listener.pid")"
say "kill -9 of the inbox-listener with $before_kill requests accepted"
sleep 1
bash "$REPO/Deploy/devnet.sh" start node0 inbox-listener
readyz_says() { curl -s -m 3 "$il_url/readyz" | grep -q "$1"; }
# The consensus-manager goes away: the listener says so and holds the confirmed requests.
bash "$REPO/Deploy/devnet.sh" stop node0 consensus-manager
wait_for 30 "/readyz to report the consensus-manager down" readyz_says '"name":"consensus-manager","ok":false'
holding() {
  curl -sf -m 2 "$il_url/status" | "$PY" -c '
import json, sys
sys.exit(0 if any(c["lastForwardError"] for c in json.load(sys.stdin)["chains"]) else 1)'
}
wait_for 30 "the listener to hold requests for the consensus-manager" holding
bash "$REPO/Deploy/devnet.sh" start node0 consensus-manager
cm_ready() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$cm_url/readyz")" = 200 ]; }
wait_for 60 "the consensus-manager back with its 5 local services" cm_ready
say "the consensus-manager was down and came back with $(accepted) requests kept"
wait "$gen_a" || die "make_requests failed on chain A"
wait "$gen_b" || die "make_requests failed on chain B"
[ "$(wc -l <"$DIR/requests-a.jsonl")" -eq $half ] || die "chain A: not $half requests"

# --- 2b. chain B misbehaves, goes away, comes back ------------------------------------------------
echo garbage >"$DIR/proxy.mode"
wait_for 30 "/readyz to report chain B's garbage" readyz_says "chain $CHAIN_B unreachable: garbage answer"
echo hang >"$DIR/proxy.mode"
wait_for 60 "/readyz to report chain B's timeouts" readyz_says "chain $CHAIN_B unreachable: timeout"
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""
"$PY" "$REPO/Deploy/devchain/make_requests.py" --url "$url_b" --count $OUTAGE_COUNT --confirmations $CONFIRMATIONS \
  --tag outage --deployments-from-rpc >"$DIR/outage.jsonl"
wait_for 60 "/readyz to report chain B gone" readyz_says "chain $CHAIN_B unreachable: unreachable"
start_proxy
wait_for 60 "chain B back" il_ready
say "chain $CHAIN_B answered garbage, timed out, went away and came back"
log="$DIR/devnet/logs/node0-inbox-listener.log"
for kind in "garbage answer" timeout unreachable; do
  grep '"msg":"chain unreachable; retrying with backoff"' "$log" | grep -q "\"kind\":\"$kind\"" \
    || die "no log line for the chain's $kind"
done
grep -q '"msg":"chain reachable again"' "$log" || die "no log line for the chain coming back"

rpc() {  # rpc URL METHOD PARAMS-JSON -> result
  curl -sf -m 10 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1" \
    | "$PY" -c 'import json,sys; r=json.load(sys.stdin); assert "error" not in r, r; print(json.dumps(r["result"]))'
}

# --- 3. a reorg that orphans requests on chain A -----------------------------------------------
snapshot=$(rpc "$url_a" evm_snapshot '[]' | tr -d '"')
# 50 confirmations: never reached on this branch (nothing is mined on it after these).
"$PY" "$REPO/Deploy/devchain/make_requests.py" --url "$url_a" --count $REORG_COUNT --confirmations 50 \
  --tag orphan --deployments-from-rpc >"$DIR/orphans.jsonl"
awaiting_a() {
  curl -sf -m 2 "$il_url/status" | "$PY" -c '
import json, sys
c = next(c for c in json.load(sys.stdin)["chains"] if c["chainId"] == int(sys.argv[1]))
sys.exit(0 if c["awaitingConfirmations"] >= int(sys.argv[2]) else 1)' $CHAIN_A $REORG_COUNT
}
wait_for 30 "the listener to read the soon-orphaned requests" awaiting_a
[ "$(rpc "$url_a" evm_revert "[\"$snapshot\"]")" = true ] || die "evm_revert failed"
"$PY" "$REPO/Deploy/devchain/make_requests.py" --url "$url_a" --count $REORG_COUNT --confirmations $CONFIRMATIONS \
  --tag canonical --deployments-from-rpc >"$DIR/replacements.jsonl"
# Same ids, other params: the reorg replaced the requests.
"$PY" - "$DIR/orphans.jsonl" "$DIR/replacements.jsonl" <<'PYEOF' || die "the reorg did not reuse the ids"
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
r = [json.loads(l) for l in open(sys.argv[2])]
assert [x["id"] for x in o] == [x["id"] for x in r], (o, r)
assert all(a["params"] != b["params"] for a, b in zip(o, r))
PYEOF
for url in "$url_a" "$url_b"; do rpc "$url" evm_mine "[$(( CONFIRMATIONS + 3 ))]" >/dev/null; done

# --- 4. checks -----------------------------------------------------------------------------------
expected=$(( COUNT + REORG_COUNT + OUTAGE_COUNT ))
all_accepted() { [ "$(accepted 2>/dev/null || echo 0)" -ge $expected ]; }
wait_for 90 "$expected accepted requests" all_accepted
sleep 1  # a late duplicate or conflict would show now
curl -sf "$cm_url/inbox/requests" >"$DIR/inbox-requests.json"
curl -sf "$cm_url/status" >"$DIR/cm-status.json"
curl -sf "$il_url/status" >"$DIR/il-status.json"
"$PY" - "$DIR" "$url_a" "$inbox_a" $CHAIN_A "$url_b" "$inbox_b" $CHAIN_B $expected <<'PYEOF' || die "checks failed"
import json, sys, urllib.request
from eth_abi import decode

d, url_a, inbox_a, chain_a, url_b, inbox_b, chain_b, expected = sys.argv[1:9]
TOPIC0 = None
from eth_utils import keccak
TOPIC0 = "0x" + keccak(text="RequestCreated(uint256,address,uint256,string,bytes,string[],uint256,uint256,uint256)").hex()

def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    r = json.load(urllib.request.urlopen(req, timeout=30))
    assert "error" not in r, r
    return r["result"]

canonical = {}
for url, inbox, chain in [(url_a, inbox_a, int(chain_a)), (url_b, inbox_b, int(chain_b))]:
    head = int(rpc(url, "eth_blockNumber", []), 16)
    for start in range(0, head + 1, 5000):
        logs = rpc(url, "eth_getLogs", [{"address": inbox, "topics": [TOPIC0], "fromBlock": hex(start),
                                         "toBlock": hex(min(head, start + 4999))}])
        for log in logs:
            rid = int(log["topics"][1], 16)
            fields = decode(["uint256", "string", "bytes", "string[]", "uint256", "uint256", "uint256"],
                            bytes.fromhex(log["data"][2:]))
            key = (chain, rid)
            assert key not in canonical, f"two canonical logs for {key}"
            canonical[key] = {"params": "0x" + fields[2].hex(), "blockHash": log["blockHash"],
                              "blockNumber": int(log["blockNumber"], 16), "txHash": log["transactionHash"]}

got = json.load(open(f"{d}/inbox-requests.json"))
rows = got["requests"]
assert got["count"] == len(rows), "count differs from the rows"
keys = [(r["chainId"], int(r["id"], 16)) for r in rows]
assert len(set(keys)) == len(keys), "a request appears twice"
assert keys == sorted(keys), "not sorted by chain then id"
missing = set(canonical) - set(keys)
extra = set(keys) - set(canonical)
assert not missing, f"{len(missing)} canonical requests missing, e.g. {sorted(missing)[:3]}"
assert not extra, f"{len(extra)} requests that are not canonical, e.g. {sorted(extra)[:3]}"
orphans = {json.loads(l)["params"] for l in open(f"{d}/orphans.jsonl")}
for r in rows:
    c = canonical[(r["chainId"], int(r["id"], 16))]
    assert r["params"] == c["params"], f"{r['id']}: params {r['params']} are not the canonical {c['params']}"
    assert r["params"] not in orphans, f"{r['id']}: an orphaned body"
    assert r["blockHash"] == c["blockHash"] and r["blockNumber"] == c["blockNumber"], f"{r['id']}: not the canonical block"
    assert r["txHash"] == c["txHash"], f"{r['id']}: not the canonical transaction"
assert len(rows) == int(expected), f"{len(rows)} requests, expected {expected}"
cm = json.load(open(f"{d}/cm-status.json"))["inbox"]
assert cm["conflicts"] == 0, f"conflicts counted: {cm}"
il = json.load(open(f"{d}/il-status.json"))["chains"]
a = next(c for c in il if c["chainId"] == int(chain_a))
assert a["reorgs"] >= 1 and a["orphanedRequests"] >= 5, f"the reorg was not seen: {a}"
print(json.dumps({"requests": len(rows), "duplicates": cm["duplicates"], "conflicts": cm["conflicts"],
                  "reorgs_a": a["reorgs"], "orphaned_a": a["orphanedRequests"], "rpc_errors_a": a["rpcErrors"]}))
PYEOF
say "ok: $expected requests exactly once, canonical bodies only, across kill -9, a consensus-manager restart, a chain outage and a reorg ($(( $(date +%s) - started )) s)"
