#!/usr/bin/env bash
# Builds the Wire fuzzer and runs it: `bash Tests/Fuzz/run.sh [RUNS]` (default 1000000), from the
# repository root (`make fuzz` does this). Outputs go to .build-fuzz/ (ignored by git). Exits
# non-zero on a finding; the crashing input is left in .build-fuzz/crash-*.
set -euo pipefail
runs="${1:-1000000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build-fuzz"
mkdir -p "$out/corpus"

swiftc -O -sanitize=fuzzer,address -parse-as-library -use-ld=lld \
    "$root"/Protocol/Wire/*.swift "$root/Tests/Fuzz/WireFuzz.swift" -o "$out/wire-fuzz"

# Seed the corpus with the golden fixtures (binary).
python3 - "$root/Tests/ProtocolTests/Fixtures" "$out/corpus" <<'PY'
import pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for f in src.glob("*.hex"):
    text = "".join(l for l in f.read_text().splitlines() if not l.startswith("#"))
    (dst / (f.stem + ".bin")).write_bytes(bytes.fromhex("".join(text.split())))
PY

cd "$out"
./wire-fuzz -runs="$runs" -max_len=4096 -print_final_stats=1 corpus
