#!/usr/bin/env bash
# A local network of N validators on loopback: 6 processes per validator (DESIGN §2).
#
#   Deploy/devnet.sh up N            create N homes, start 6×N processes, wait for /readyz, print the table
#   Deploy/devnet.sh down            stop every process this script started (pid files); verify ports are free
#   Deploy/devnet.sh status          each process: pid, alive, /readyz
#   Deploy/devnet.sh logs [NODE [SERVICE]]   tail the logs
#   Deploy/devnet.sh start NODE SERVICE      (re)start one process, e.g. after a crash
#   Deploy/devnet.sh stop NODE SERVICE       stop one process (SIGTERM)
#   Deploy/devnet.sh url NODE SERVICE        print the service's HTTP base URL
#
# Environment: DEVNET_DIR (default: <repo>/.devnet), DEVNET_BASE_PORT (default: 26600; keep below the ephemeral range),
# DEVNET_BIN (default: the debug build's bin path), DEVNET_READY_TIMEOUT (seconds, default 120).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DEVNET_DIR:-$REPO/.devnet}"
BASE_PORT="${DEVNET_BASE_PORT:-26600}"
READY_TIMEOUT="${DEVNET_READY_TIMEOUT:-120}"
CHAIN_ID="${DEVNET_CHAIN_ID:-vn-devnet}"
SERVICES=(consensus-manager tss-signer inbox-listener sandbox-executor bridge-adapter batch-proposer)

die() { echo "devnet: $*" >&2; exit 1; }

bin_dir() {
  if [ -n "${DEVNET_BIN:-}" ]; then echo "$DEVNET_BIN"; return; fi
  (cd "$REPO" && swift build --show-bin-path)
}

# The TOML section of each service in node.toml.
section_of() {
  case "$1" in
    consensus-manager) echo consensus ;; tss-signer) echo tss ;; inbox-listener) echo inbox ;;
    sandbox-executor) echo sandbox ;; bridge-adapter) echo bridge ;; batch-proposer) echo batch ;;
    *) die "unknown service '$1' (one of: ${SERVICES[*]})" ;;
  esac
}

# toml_get FILE SECTION KEY -> the string value (node.toml is written by `consensus-manager testnet`).
toml_get() {
  awk -v sec="[$2]" -v key="$3" '
    /^\[/ { insec = ($0 == sec) ; next }
    insec && $1 == key { sub(/^[^=]*=[ \t]*/, ""); gsub(/"/, ""); sub(/[ \t]*#.*$/, ""); print; exit }
  ' "$1"
}

nodes() { ls -d "$DIR"/homes/node* 2>/dev/null | sort -V; }
http_url() { echo "http://$(toml_get "$DIR/homes/$1/config/node.toml" "$(section_of "$2")" http_listen)"; }
pidfile() { echo "$DIR/pids/$1-$2.pid"; }
# A process is alive if it exists and is not a zombie (a killed process whose parent has not
# reaped it yet still answers kill -0).
pid_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
alive() { local f; f=$(pidfile "$1" "$2"); [ -f "$f" ] && pid_alive "$(cat "$f")"; }

start_one() {
  local node="$1" svc="$2" bin
  section_of "$svc" >/dev/null
  [ -d "$DIR/homes/$node" ] || die "no home $DIR/homes/$node (run: $0 up N)"
  if alive "$node" "$svc"; then echo "devnet: $node $svc already running"; return; fi
  bin="$(bin_dir)/$svc"
  [ -x "$bin" ] || die "missing binary $bin (run: make build)"
  mkdir -p "$DIR/logs" "$DIR/pids"
  # setsid: the process survives this shell; its pid is recorded for `down`.
  # A devnet restarts processes by hand: redial peers within seconds, not the production 30 s.
  VN_CONSENSUS_DIAL_BACKOFF_MAX_MS="${VN_CONSENSUS_DIAL_BACKOFF_MAX_MS:-3000}" \
    setsid "$bin" start --home "$DIR/homes/$node" >>"$DIR/logs/$node-$svc.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$node" "$svc")"
}

stop_one() {
  local node="$1" svc="$2" f pid
  f=$(pidfile "$node" "$svc")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      echo "devnet: $node $svc ignored SIGTERM for 10 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

ready_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$(http_url "$1" "$2")/readyz" || true; }

wait_ready() {
  local deadline=$(( $(date +%s) + READY_TIMEOUT )) pending
  while :; do
    pending=()
    for home in $(nodes); do
      n=$(basename "$home")
      for svc in "${SERVICES[@]}"; do
        alive "$n" "$svc" || die "$n $svc exited; see $DIR/logs/$n-$svc.log"
        [ "$(ready_code "$n" "$svc")" = 200 ] || pending+=("$n/$svc")
      done
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && die "not ready after ${READY_TIMEOUT}s: ${pending[*]}"
    sleep 0.5
  done
}

table() {
  printf '%-7s %-18s %-7s %-6s %-28s %s\n' NODE SERVICE PID READY HTTP RPC
  for home in $(nodes); do
    n=$(basename "$home")
    for svc in "${SERVICES[@]}"; do
      local pid="-" code
      [ -f "$(pidfile "$n" "$svc")" ] && pid=$(cat "$(pidfile "$n" "$svc")")
      alive "$n" "$svc" || pid="dead"
      code=$(ready_code "$n" "$svc"); [ -n "$code" ] && [ "$code" != 000 ] || code="-"
      printf '%-7s %-18s %-7s %-6s %-28s %s\n' "$n" "$svc" "$pid" "$code" "$(http_url "$n" "$svc")" \
        "$(toml_get "$home/config/node.toml" "$(section_of "$svc")" rpc_listen)"
    done
  done
}

cmd_up() {
  local n="${1:-4}"
  [[ "$n" =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 50 ] || die "N must be 1..50, got '$n'"
  if [ -d "$DIR/pids" ] && [ -n "$(ls "$DIR/pids" 2>/dev/null)" ]; then
    die "a devnet is already running in $DIR (run: $0 down)"
  fi
  local bin; bin="$(bin_dir)"
  [ -x "$bin/consensus-manager" ] || die "missing binaries in $bin (run: make build)"
  rm -rf "$DIR/homes" "$DIR/logs"; mkdir -p "$DIR/logs" "$DIR/pids"
  # Find a base port whose whole range is free: testnet verifies every port by binding it.
  local base="$BASE_PORT" tries=0
  until "$bin/consensus-manager" testnet --validators "$n" --output "$DIR/homes" --chain-id "$CHAIN_ID" \
      --host 127.0.0.1 --base-port "$base" --force > "$DIR/logs/testnet.log" 2>&1; do
    tries=$((tries + 1)); [ $tries -lt 20 ] || { cat "$DIR/logs/testnet.log" >&2; die "no free port range found"; }
    base=$((base + 500)); [ $base -lt 32000 ] || base=20000
  done
  for home in $(nodes); do
    for svc in "${SERVICES[@]}"; do start_one "$(basename "$home")" "$svc"; done
  done
  echo "devnet: started $(( n * ${#SERVICES[@]} )) processes in $DIR; waiting for /readyz ..."
  wait_ready
  table
  echo "devnet: ready. Logs: $DIR/logs  Stop: $0 down"
}

cmd_down() {
  [ -d "$DIR/pids" ] || { echo "devnet: nothing running"; return 0; }
  for f in "$DIR"/pids/*.pid; do
    [ -e "$f" ] || continue
    local b; b=$(basename "$f" .pid); stop_one "${b%%-*}" "${b#*-}" &
  done
  wait
  # Verify: no process of ours, no port of ours still listening.
  local leftover=""
  for home in $(nodes); do
    for port in $(grep -Eo '127\.0\.0\.1:[0-9]+' "$home/config/node.toml" | cut -d: -f2 | sort -u); do
      if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then leftover="$leftover $port"; fi
    done
  done
  [ -z "$leftover" ] || die "ports still listening after down:$leftover"
  echo "devnet: stopped; no process or port left"
}

cmd_status() { [ -d "$DIR/homes" ] || die "no devnet in $DIR"; table; }

cmd_logs() {
  if [ $# -ge 2 ]; then tail -n 100 "$DIR/logs/$1-$2.log"
  elif [ $# -eq 1 ]; then tail -n 20 "$DIR"/logs/"$1"-*.log
  else tail -n 10 "$DIR"/logs/*.log; fi
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  start) [ $# -eq 3 ] || die "usage: $0 start NODE SERVICE"; start_one "$2" "$3" ;;
  stop) [ $# -eq 3 ] || die "usage: $0 stop NODE SERVICE"; stop_one "$2" "$3" ;;
  url) [ $# -eq 3 ] || die "usage: $0 url NODE SERVICE"; http_url "$2" "$3" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
