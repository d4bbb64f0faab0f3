#!/usr/bin/env python3
"""Extracts transaction-tests.json from a checkout of ethereum/tests (TransactionTests/).

    python3 Tests/ChainTests/Fixtures/extract-transaction-tests.py /path/to/ethereum/tests > \
        Tests/ChainTests/Fixtures/transaction-tests.json

For every test, the expectation is the Cancun result: `valid` cases carry the sender and the
transaction hash; `invalid` cases carry the upstream exception name. Left out (and counted in
`skipped`): EIP-2930 (type 1) transactions, which the EVM module does not decode, exceptions that
depend on fork rules or state rather than on the encoding (intrinsic gas, init-code size),
transactions over 4 KiB (keeps the fixture small) and files stored outside git (the 10 MB data
tests).
"""
import json
import os
import subprocess
import sys

root = sys.argv[1]
SEMANTIC = {
    "TransactionException.INTRINSIC_GAS_TOO_LOW",
    "TransactionException.INITCODE_SIZE_EXCEEDED",
}
commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
valid, invalid, skipped = [], [], []
base = os.path.join(root, "TransactionTests")
files = subprocess.run(["git", "-C", root, "ls-tree", "-r", "--name-only", "HEAD", "TransactionTests"],
                       capture_output=True, text=True).stdout.split()
for path in sorted(files):
    if not path.endswith(".json"):
        continue
    blob = subprocess.run(["git", "-C", root, "show", "HEAD:" + path], capture_output=True)
    if blob.returncode != 0:
        skipped.append(path + " (not in git)")
        continue
    for name, test in json.loads(blob.stdout).items():
        label = path[len("TransactionTests/"):-len(".json")]
        tx = test["txbytes"].lower()
        result = test["result"].get("Cancun", {})
        if tx.startswith("0x01"):
            skipped.append(label + " (type 1)")
        elif len(tx) > 2 + 2 * 4096:
            skipped.append(label + " (larger than 4 KiB)")
        elif "sender" in result:
            valid.append({"name": label, "tx": tx, "sender": "0x" + result["sender"].lower().removeprefix("0x"),
                          "hash": "0x" + result["hash"].lower().removeprefix("0x")})
        elif result.get("exception") in SEMANTIC:
            skipped.append(label + " (" + result["exception"] + ")")
        else:
            invalid.append({"name": label, "tx": tx, "exception": result.get("exception", "invalid")})
json.dump({"source": "https://github.com/ethereum/tests TransactionTests/, Cancun results",
           "commit": commit, "valid": valid, "invalid": invalid, "skipped": skipped},
          sys.stdout, indent=1)
print()
