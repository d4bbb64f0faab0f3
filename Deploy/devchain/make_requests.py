#!/usr/bin/env python3
"""Send N Inbox.request(...) transactions to a dev chain and print one JSON line per request.

    .venv-devchain/bin/python Deploy/devchain/make_requests.py --url URL --count N
        [--confirmations C] [--tag T] [--deployments-from-rpc | --deployments FILE]
        [--account I] [--container-url U] [--source-url S ...] [--target-chain-id ID]
        [--batch B] [--timeout SECONDS]

Output, on stdout, one line per request in the order sent (nothing else goes to stdout):

    {"id": "0x…", "txHash": "0x…", "block": n, "params": "0x…"}

`id` is the request id read from the mined RequestCreated log (a quantity, (chainid << 128) | n),
`params` the container params sent: `vn-request tag=<T> i=<1..N> nonce=<sender nonce>`, unique.

The transactions are EIP-1559, signed here with a dev account's key (from `dev_deployments`, or
from a deployments.json), fee = the Inbox's minFee. Nonces are pipelined: every transaction of
a chunk is signed ahead with consecutive nonces and the chunk goes out as one JSON-RPC batch (the
server handles a batch in order; with automine on each transaction is mined in its own block
before the next one runs). Receipts are then read in batches; with automine off they are polled
until someone mines (`--timeout`). Exit status 0 when every request was mined with status 1 and
emitted its RequestCreated log; 1 otherwise (the reason on stderr); 2 for bad arguments.

Uses only packages of requirements.txt (eth-account, eth-abi, eth-utils).
"""

import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse

from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

REQUEST_SIGNATURE = "request(string,bytes,string[],uint256,uint256)"
REQUEST_SELECTOR = function_signature_to_4byte_selector(REQUEST_SIGNATURE)
MIN_FEE_SELECTOR = function_signature_to_4byte_selector("minFee()")
REQUEST_CREATED_TOPIC = "0x" + keccak(
    text="RequestCreated(uint256,address,uint256,string,bytes,string[],uint256,uint256,uint256)"
).hex()
TIP = 10**9  # 1 gwei, the dev chain's eth_maxPriorityFeePerGas
MAX_CONFIRMATIONS = 10_000  # the Inbox's limit


class Failure(Exception):
    """A reason to stop (printed on stderr, exit status 1)."""


class Rpc:
    """JSON-RPC over one keep-alive HTTP/1.1 connection (the dev chain speaks HTTP/1.1)."""

    def __init__(self, url, timeout=60):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise Failure(f"--url must be http://host:port, got {url!r}")
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.path = parsed.path or "/"
        self.timeout = timeout
        self.conn = None
        self.next_id = 1

    def _post(self, payload):
        body = json.dumps(payload).encode()
        for attempt in (1, 2):  # once more on a dropped keep-alive connection
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise Failure(f"HTTP {resp.status} from {self.host}:{self.port}: {data[:200]!r}")
                return json.loads(data)
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.close()
                if attempt == 2:
                    raise Failure(f"{self.host}:{self.port}: {e}") from e

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method, *params):
        rid = self.next_id
        self.next_id += 1
        resp = self._post({"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)})
        if not isinstance(resp, dict) or resp.get("id") != rid:
            raise Failure(f"{method}: malformed response {str(resp)[:200]}")
        if "error" in resp:
            raise Failure(f"{method}: {resp['error'].get('code')} {resp['error'].get('message')}")
        return resp["result"]

    def batch(self, calls):
        """[(method, params)] -> [("ok", result) | ("error", error object)] in request order."""
        if not calls:
            return []
        first = self.next_id
        self.next_id += len(calls)
        payload = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        resp = self._post(payload)
        if not isinstance(resp, list) or len(resp) != len(calls):
            raise Failure(f"batch of {len(calls)}: malformed response {str(resp)[:200]}")
        by_id = {r.get("id"): r for r in resp if isinstance(r, dict)}
        out = []
        for i, (method, _) in enumerate(calls):
            r = by_id.get(first + i)
            if r is None:
                raise Failure(f"batch: no answer to {method} (id {first + i})")
            out.append(("error", r["error"]) if "error" in r else ("ok", r.get("result")))
        return out


def quantity(value, what):
    if not isinstance(value, str) or not value.startswith("0x"):
        raise Failure(f"{what}: expected a quantity, got {value!r}")
    return int(value, 16)


def load_deployments(args, rpc):
    if args.deployments:
        with open(args.deployments) as f:
            return json.load(f)
    return rpc.call("dev_deployments")


def request_calldata(container_url, params, sources, target, confirmations):
    return REQUEST_SELECTOR + encode(
        ["string", "bytes", "string[]", "uint256", "uint256"], [container_url, params, sources, target, confirmations]
    )


def params_for(tag, index, nonce):
    # The tag, the position in this run and the sender's nonce (never the same twice for one
    # account on one chain): two runs never send the same body, also with the same tag.
    return f"vn-request tag={tag} i={index} nonce={nonce}".encode()


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Send N Inbox.request transactions to a dev chain; one JSON line per request.")
    p.add_argument("--url", required=True, help="the dev chain's JSON-RPC URL (http://127.0.0.1:PORT)")
    p.add_argument("--count", required=True, type=int, help="requests to send (1..100000)")
    p.add_argument("--confirmations", type=int, default=0, help=f"each request's confirmations (0..{MAX_CONFIRMATIONS})")
    p.add_argument("--tag", default=None, help="put in every request's params (default: pid and time of this run)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--deployments-from-rpc", action="store_true",
                     help="read addresses and keys with the dev_deployments method (the default)")
    src.add_argument("--deployments", metavar="FILE", help="read them from a deployments.json instead")
    p.add_argument("--account", type=int, default=2,
                   help="index of the dev account that sends (default 2; not the faucet, the last one)")
    p.add_argument("--container-url", default="docker://vn/echo:1")
    p.add_argument("--source-url", action="append", default=None, help="repeatable (default one example URL)")
    p.add_argument("--target-chain-id", type=int, default=None, help="default: the chain's own id")
    p.add_argument("--batch", type=int, default=100, help="transactions per JSON-RPC batch (1..1000)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for receipts (automine off)")
    args = p.parse_args(argv)
    if not 1 <= args.count <= 100_000:
        p.error("--count: 1..100000")
    if not 0 <= args.confirmations <= MAX_CONFIRMATIONS:
        p.error(f"--confirmations: 0..{MAX_CONFIRMATIONS}")
    if not 1 <= args.batch <= 1000:
        p.error("--batch: 1..1000")
    if args.target_chain_id is not None and args.target_chain_id <= 0:
        p.error("--target-chain-id must be positive")
    if args.account < 0:
        p.error("--account must be >= 0")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    return args


def run(args, out):
    rpc = Rpc(args.url)
    try:
        deployments = load_deployments(args, rpc)
        try:
            inbox = deployments["contracts"]["Inbox"]["address"].lower()
            accounts = deployments["accounts"]
            faucet = deployments.get("faucet", "").lower()
        except (KeyError, TypeError, AttributeError) as e:
            raise Failure(f"deployments without an Inbox or accounts ({e})") from e
        if args.account >= len(accounts):
            raise Failure(f"--account {args.account}: the chain has {len(accounts)} dev accounts")
        key = accounts[args.account]["privateKey"]
        sender = Account.from_key(key)
        if sender.address.lower() == faucet:
            raise Failure("--account: that is the faucet of dev_fundAccount; pick another")
        chain_id = quantity(rpc.call("eth_chainId"), "eth_chainId")
        if deployments.get("chainId") not in (None, chain_id):
            raise Failure(f"deployments are of chain {deployments.get('chainId')}, {args.url} serves {chain_id}")
        min_fee = int.from_bytes(bytes.fromhex(rpc.call("eth_call", {"to": inbox, "data": "0x" + MIN_FEE_SELECTOR.hex()},
                                                        "latest")[2:]), "big")
        target = args.target_chain_id or chain_id
        sources = args.source_url if args.source_url is not None else ["https://source.example/feed"]
        tag = args.tag if args.tag is not None else f"{os.getpid()}-{time.time_ns()}"

        # Gas: the estimate of the first request, doubled (later ones differ only in a few bytes of
        # params; unused gas is refunded).
        probe = request_calldata(args.container_url, params_for(tag, 0, 0), sources, target, args.confirmations)
        gas = 2 * quantity(rpc.call("eth_estimateGas", {"from": sender.address, "to": inbox, "value": hex(min_fee),
                                                         "data": "0x" + probe.hex()}), "eth_estimateGas")
        base_fee = quantity(rpc.call("eth_getBlockByNumber", "pending", False)["baseFeePerGas"], "baseFeePerGas")
        # Headroom for the base fee to rise over the run (it does with automine off, blocks fill up).
        max_fee = 4 * base_fee + TIP
        nonce = quantity(rpc.call("eth_getTransactionCount", sender.address, "pending"), "eth_getTransactionCount")

        sent = []  # (params, tx hash), in nonce order
        for start in range(0, args.count, args.batch):
            chunk = range(start, min(start + args.batch, args.count))
            raws, bodies = [], []
            for i in chunk:
                params = params_for(tag, i + 1, nonce + i)
                tx = {"type": 2, "chainId": chain_id, "nonce": nonce + i, "to": to_checksum_address(inbox),
                      "value": min_fee, "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": TIP,
                      "data": request_calldata(args.container_url, params, sources, target, args.confirmations)}
                signed = Account.sign_transaction(tx, key)
                raws.append("0x" + bytes(signed.raw_transaction).hex())
                bodies.append((params, "0x" + bytes(signed.hash).hex()))
            answers = rpc.batch([("eth_sendRawTransaction", [raw]) for raw in raws])
            for (params, tx_hash), (kind, value) in zip(bodies, answers):
                if kind == "error":
                    raise Failure(f"eth_sendRawTransaction nonce {nonce + len(sent)}: "
                                  f"{value.get('code')} {value.get('message')}"
                                  " (another sender on this account? use --account)")
                if value != tx_hash:
                    raise Failure(f"eth_sendRawTransaction returned {value}, signed {tx_hash}")
                sent.append((params, tx_hash))

        deadline = time.monotonic() + args.timeout
        for start in range(0, len(sent), args.batch):
            chunk = sent[start:start + args.batch]
            receipts = [None] * len(chunk)
            while True:
                missing = [i for i, r in enumerate(receipts) if r is None]
                if not missing:
                    break
                answers = rpc.batch([("eth_getTransactionReceipt", [chunk[i][1]]) for i in missing])
                for i, (kind, value) in zip(missing, answers):
                    if kind == "error":
                        raise Failure(f"eth_getTransactionReceipt {chunk[i][1]}: {value.get('message')}")
                    receipts[i] = value
                if all(r is not None for r in receipts):
                    break
                if time.monotonic() >= deadline:
                    raise Failure(f"{sum(r is None for r in receipts)} transactions not mined within "
                                  f"{args.timeout}s (automine off? mine with evm_mine)")
                time.sleep(0.05)
            for (params, tx_hash), receipt in zip(chunk, receipts):
                out.write(json.dumps(line_for(receipt, inbox, params, tx_hash)) + "\n")
            out.flush()
    finally:
        rpc.close()


def line_for(receipt, inbox, params, tx_hash):
    if receipt.get("transactionHash") != tx_hash:
        raise Failure(f"receipt of {receipt.get('transactionHash')} for {tx_hash}")
    if receipt.get("status") != "0x1":
        raise Failure(f"{tx_hash} reverted (status {receipt.get('status')})")
    created = [log for log in receipt.get("logs", [])
               if log.get("address", "").lower() == inbox and log.get("topics", [None])[0] == REQUEST_CREATED_TOPIC]
    if len(created) != 1 or len(created[0]["topics"]) != 3:
        raise Failure(f"{tx_hash}: expected one RequestCreated log of the Inbox, got {len(created)}")
    request_id = int(created[0]["topics"][1], 16)
    return {"id": hex(request_id), "txHash": tx_hash, "block": quantity(receipt["blockNumber"], "blockNumber"),
            "params": "0x" + params.hex()}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args, sys.stdout)
    except Failure as e:
        print(f"make_requests: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
