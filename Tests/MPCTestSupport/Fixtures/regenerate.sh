#!/usr/bin/env bash
# Regenerates mpc-safe-primes.json: 1024-bit safe primes (p = 2p' + 1, p' prime) from OpenSSL's
# `openssl prime -generate -safe` (BN_generate_prime_ex2 with safe = 1, OpenSSL's DRBG), paired
# into Paillier keys (N = pq, 2048 bits) and ring-Pedersen moduli (Ñ = p̃q̃).
#
#   bash Tests/MPCTestSupport/Fixtures/regenerate.sh            # 10 + 10 pairs, ≈ 40 primes · ~1 s
#   PAIRS=12 bash Tests/MPCTestSupport/Fixtures/regenerate.sh
#
# The primes are test material only: they are public, so no key made from them protects anything.
# `MPCFixtureTests` re-checks every prime (BN_check_prime on p and (p − 1)/2), the pair sizes and
# that no prime is used twice.
set -euo pipefail
cd "$(dirname "$0")"
PAIRS=${PAIRS:-10}
BITS=1024
out=mpc-safe-primes.json
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

declare -A seen=()
prime() {
    while true; do
        local p
        p=$(openssl prime -generate -safe -bits "$BITS" -hex | tr 'A-F' 'a-f')
        if [[ -z "${seen[$p]:-}" ]]; then
            seen[$p]=1
            echo "$p"
            return
        fi
    done
}
pairs() {
    local i
    for ((i = 0; i < PAIRS; i++)); do
        local p q sep=","
        p=$(prime)
        q=$(prime)
        ((i == PAIRS - 1)) && sep=""
        printf '    {"p": "%s",\n     "q": "%s"}%s\n' "$p" "$q" "$sep"
        echo "  pair $((i + 1))/$PAIRS" >&2
    done
}

{
    echo '{'
    echo '  "version": 1,'
    echo "  \"note\": \"Test-only 1024-bit safe primes (public!). Regenerate: bash Tests/MPCTestSupport/Fixtures/regenerate.sh\","
    echo '  "paillier": ['
    pairs
    echo '  ],'
    echo '  "ringPedersen": ['
    pairs
    echo '  ]'
    echo '}'
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $(pwd)/$out" >&2
