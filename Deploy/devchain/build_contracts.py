#!/usr/bin/env python3
"""Compile the dev chain's Vyper contracts into committed JSON artifacts, or check them.

    build_contracts.py            rewrite contracts/build/<Name>.json from contracts/<Name>.vy
    build_contracts.py --check    exit 1 when an artifact differs from a fresh compilation

An artifact holds the ABI, the creation and runtime bytecode, the compiler version and the
SHA-256 of the source it was compiled from (the server compiles at start instead when that hash
no longer matches the source).
"""

import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRACTS_DIR = os.path.join(HERE, "contracts")
BUILD_DIR = os.path.join(CONTRACTS_DIR, "build")
CONTRACTS = ("Inbox", "Staking")
VYPER_VERSION = "0.4.3"


def source_path(name):
    return os.path.join(CONTRACTS_DIR, name + ".vy")


def artifact_path(name):
    return os.path.join(BUILD_DIR, name + ".json")


def source_sha256(name):
    with open(source_path(name), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def compile_contract(name):
    """Compile one contract with the installed Vyper; return the artifact dict."""
    import vyper

    if not vyper.__version__.startswith(VYPER_VERSION):
        raise RuntimeError(f"vyper {VYPER_VERSION} required, found {vyper.__version__}")
    with open(source_path(name), "r", encoding="utf-8") as f:
        source = f.read()
    out = vyper.compile_code(
        source,
        contract_path=name + ".vy",
        output_formats=["abi", "bytecode", "bytecode_runtime", "method_identifiers"],
    )
    return {
        "contractName": name,
        "compiler": "vyper " + vyper.__version__,
        "sourcePath": "contracts/" + name + ".vy",
        "sourceSha256": source_sha256(name),
        "abi": out["abi"],
        "methodIdentifiers": out["method_identifiers"],
        "bytecode": out["bytecode"],
        "deployedBytecode": out["bytecode_runtime"],
    }


def render(artifact):
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def load_artifact(name):
    with open(artifact_path(name), "r", encoding="utf-8") as f:
        return json.load(f)


def load_or_compile(name, log=None):
    """The committed artifact when it matches the source, else a fresh compilation."""
    try:
        artifact = load_artifact(name)
        if artifact.get("sourceSha256") == source_sha256(name):
            return artifact
        reason = "source changed since the artifact was built"
    except FileNotFoundError:
        reason = "no artifact"
    if log:
        log(f"compiling {name}.vy ({reason})")
    return compile_contract(name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 on a difference")
    args = parser.parse_args(argv)
    os.makedirs(BUILD_DIR, exist_ok=True)
    stale = []
    for name in CONTRACTS:
        text = render(compile_contract(name))
        path = artifact_path(name)
        try:
            with open(path, "r", encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            print(f"{name}: up to date")
            continue
        if args.check:
            stale.append(name)
            print(f"{name}: artifact differs from the source; run Deploy/devchain/build_contracts.sh")
            continue
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        print(f"{name}: wrote {os.path.relpath(path, HERE)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
