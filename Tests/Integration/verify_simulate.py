#!/usr/bin/env python3
"""Independent check of `tss-signer simulate --json` output (issue 3).

Reads the JSON (a file argument, or standard input) and checks, with libraries that share no code
with the Swift engine:

  * every signature recovers, with its v, to the printed group key and EIP-55 address
    (eth-keys' pure-Python backend, and coincurve/libsecp256k1),
  * it verifies against the printed key (both backends), s is low (EIP-2), r, s in [1, n-1],
  * the address is the EIP-55 checksum of keccak(key)[12:] (eth-utils),
  * signer lists are strictly increasing and all of one size (t+1).

Run with the dev-chain venv (Deploy/devchain/requirements.txt pins eth-keys, eth-utils, coincurve):

    .build/debug/tss-signer simulate --n 3 --t 1 --messages 5 --json > out.json
    .venv-devchain/bin/python Tests/Integration/verify_simulate.py out.json

Exit status 0 when every check holds, 1 otherwise (each failure printed).
"""

import json
import sys

import coincurve
from eth_keys import KeyAPI
from eth_keys.backends import NativeECCBackend
from eth_utils import keccak, to_checksum_address

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
native = KeyAPI(NativeECCBackend)


def hex_bytes(text, length, what):
    if not isinstance(text, str) or text.startswith("0x") or text != text.lower():
        raise ValueError(f"{what}: lower-case hex without 0x expected")
    raw = bytes.fromhex(text)
    if len(raw) != length:
        raise ValueError(f"{what}: {len(raw)} bytes, expected {length}")
    return raw


def check(report):
    failures = []
    if set(report) != {"publicKey", "address", "signatures"}:
        failures.append(f"top-level keys {sorted(report)}")
    compressed = hex_bytes(report["publicKey"], 33, "publicKey")
    group = coincurve.PublicKey(compressed)
    uncompressed = group.format(compressed=False)[1:]
    group_native = native.PublicKey(uncompressed)
    address = to_checksum_address(keccak(uncompressed)[12:])
    if report["address"] != address:
        failures.append(f"address {report['address']} is not EIP-55 of the key ({address})")
    sizes = set()
    for i, entry in enumerate(report["signatures"]):
        where = f"signature {i}"
        try:
            if set(entry) != {"hash", "r", "s", "v", "signers"}:
                raise ValueError(f"keys {sorted(entry)}")
            digest = hex_bytes(entry["hash"], 32, "hash")
            r = int.from_bytes(hex_bytes(entry["r"], 32, "r"), "big")
            s = int.from_bytes(hex_bytes(entry["s"], 32, "s"), "big")
            v = entry["v"]
            signers = entry["signers"]
            if v not in (0, 1):
                raise ValueError(f"v = {v}")
            if not (0 < r < N and 0 < s < N):
                raise ValueError("r or s out of range")
            if s > N // 2:
                raise ValueError("high s")
            if not signers or any(a >= b for a, b in zip(signers, signers[1:])) or min(signers) < 0:
                raise ValueError(f"signers {signers} not strictly increasing")
            sizes.add(len(signers))
            # Pure-Python backend: recover and verify.
            sig = native.Signature(vrs=(v, r, s))
            recovered = native.ecdsa_recover(digest, sig)
            if recovered.to_checksum_address() != report["address"]:
                raise ValueError(f"recovers to {recovered.to_checksum_address()}")
            if not native.ecdsa_verify(digest, sig, group_native):
                raise ValueError("eth-keys (native) verify failed")
            # libsecp256k1 via coincurve: recover and verify (DER).
            raw65 = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
            if coincurve.PublicKey.from_signature_and_message(raw65, digest, hasher=None).format() != compressed:
                raise ValueError("coincurve recovers another key")
            der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(raw65[:64]))
            if not group.verify(der, digest, hasher=None):
                raise ValueError("coincurve verify failed")
        except Exception as error:  # noqa: BLE001 - every failure is reported, then exit 1
            failures.append(f"{where}: {error}")
    if len(sizes) > 1:
        failures.append(f"signer sets of different sizes {sorted(sizes)}")
    return failures


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    report = json.loads(text)
    failures = check(report)
    count = len(report.get("signatures", []))
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        print(f"{len(failures)} failure(s) among {count} signature(s)")
        return 1
    print(f"OK {count} signature(s) recover to {report['address']} and verify (eth-keys native, coincurve)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
