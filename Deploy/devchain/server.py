#!/usr/bin/env python3
"""A real EVM dev chain: JSON-RPC 2.0 over HTTP on 127.0.0.1, over py-evm (through eth-tester's
PyEVMBackend), with the Inbox and Staking contracts deployed at start.

Run it through start.sh / stop.sh, or directly with the venv's python:

    .venv-devchain/bin/python Deploy/devchain/server.py --port 0 --chain-id 1337

It prints `READY port=<p> chain_id=<id> url=<url>` on stdout once it accepts connections. See
README.md for the methods, the contracts and the message encodings.
"""

import argparse
import collections
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the work tree

import build_contracts  # noqa: E402  (stdlib only at import time)

SERVER_VERSION = "1.0.0"
LISTEN_HOST = "127.0.0.1"  # never anything else: this is a dev chain with well-known keys
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_HD_PATH = "m/44'/60'/0'/0"  # the accounts Hardhat and Anvil use for this mnemonic
DEFAULT_CHAIN_ID = 1337
DEFAULT_PRIORITY_FEE = 10**9  # eth_maxPriorityFeePerGas and the tip in eth_gasPrice
DEFAULT_BALANCE = 10**6 * 10**18

# JSON-RPC error codes
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # geth's code for rejected transactions, missing headers, ...
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3

BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")  # empty trie
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

_QUANTITY_RE = re.compile(r"^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$")
_DATA_RE = re.compile(r"^0x([0-9a-fA-F]{2})*$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")


class RpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self):
        err = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def bad_params(message):
    return RpcError(INVALID_PARAMS, message)


# ---------------------------------------------------------------------------------------------
# Encoding helpers: quantities are 0x-hex without leading zeros, data is 0x-hex of whole bytes,
# addresses are lowercase.


def q(n):
    return hex(n)


def d(b):
    return "0x" + bytes(b).hex()


def addr(b):
    return None if b is None or len(b) == 0 else "0x" + bytes(b).hex()


def parse_quantity(value, name):
    if not isinstance(value, str) or not _QUANTITY_RE.match(value):
        raise bad_params(f"{name}: expected a hex quantity (0x-prefixed, no leading zeros), got {value!r}")
    return int(value, 16)


def parse_int_or_quantity(value, name):
    """Admin and fee-history counts: a JSON integer or a hex quantity."""
    if isinstance(value, bool):
        raise bad_params(f"{name}: expected a number, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise bad_params(f"{name}: must not be negative")
        return value
    return parse_quantity(value, name)


def parse_data(value, name):
    if not isinstance(value, str) or not _DATA_RE.match(value):
        raise bad_params(f"{name}: expected 0x-prefixed hex bytes, got {str(value)[:80]!r}")
    return bytes.fromhex(value[2:])


def parse_address(value, name):
    if not isinstance(value, str) or not _ADDRESS_RE.match(value):
        raise bad_params(f"{name}: expected a 20-byte 0x-hex address, got {value!r}")
    return bytes.fromhex(value[2:])


def parse_hash(value, name):
    if not isinstance(value, str) or not _HASH_RE.match(value):
        raise bad_params(f"{name}: expected a 32-byte 0x-hex hash, got {value!r}")
    return bytes.fromhex(value[2:])


def parse_bool(value, name):
    if not isinstance(value, bool):
        raise bad_params(f"{name}: expected true or false, got {value!r}")
    return value


def expect_params(params, minimum, maximum, method):
    if params is None:
        params = []
    if not isinstance(params, list):
        raise bad_params(f"{method}: params must be an array")
    if not minimum <= len(params) <= maximum:
        want = str(minimum) if minimum == maximum else f"{minimum} to {maximum}"
        raise bad_params(f"{method}: expected {want} params, got {len(params)}")
    return params + [None] * (maximum - len(params))


def decode_revert_reason(data):
    """geth's message for a revert: with the Error(string) reason or the Panic code if any."""
    if data[:4] == ERROR_SELECTOR and len(data) >= 68:
        try:
            from eth_abi import decode

            return "execution reverted: " + decode(["string"], data[4:])[0]
        except Exception:  # malformed reason: plain message
            pass
    if data[:4] == PANIC_SELECTOR and len(data) == 36:
        return "execution reverted: panic code " + hex(int.from_bytes(data[4:], "big"))
    return "execution reverted"


def validation_message(error):
    """py-evm's validation errors, worded as geth's where clients match on the words."""
    text = str(error)
    if "enough balance" in text or "cannot afford" in text:
        return f"insufficient funds for gas * price + value ({text})"
    if "Invalid transaction nonce" in text:
        return f"invalid nonce ({text})"
    if "exceeds gas limit" in text:
        return f"exceeds block gas limit ({text})"
    return text


class LRU:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = collections.OrderedDict()

    def get(self, key):
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key, value):
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)


# ---------------------------------------------------------------------------------------------
# The chain


class DevChain:
    """py-evm chain with JSON-RPC semantics. Every public method runs under self.lock."""

    def __init__(self, chain_id, accounts, balance, priority_fee, allow_unprotected,
                 max_log_range, max_log_results):
        from eth_tester.backends.pyevm.main import PyEVMBackend

        self.lock = threading.RLock()
        self.chain_id = chain_id
        self.priority_fee = priority_fee
        self.allow_unprotected = allow_unprotected
        self.max_log_range = max_log_range
        self.max_log_results = max_log_results
        self.automine = True
        self.backend = PyEVMBackend.from_mnemonic(
            DEV_MNEMONIC,
            genesis_state_overrides={"balance": balance},
            num_accounts=accounts,
            hd_path=DEV_HD_PATH,
        )
        # The tester chain class is created per backend: its chain id is ours alone to set.
        type(self.backend.chain).chain_id = chain_id
        self.keys = list(self.backend.account_keys)
        self.tx_index = {}  # tx hash -> [(block hash, block number, index)], canonical or not
        self.senders = {}  # tx hash -> sender (recovering it is the costly part)
        self.block_data = LRU(2048)  # block hash -> (block, receipts, tx hashes, logs)
        self.log_index = LRU(200_000)  # block hash -> (bloom, logs or None until needed)
        self.json_blocks = LRU(1024)  # (block hash, full) -> JSON block
        self.snapshots = {}  # id -> block hash
        self.next_snapshot = 1
        self.deployments = {}

    # -- chain access -------------------------------------------------------------------------

    @property
    def chain(self):
        return self.backend.chain  # replaced when a revert goes back to genesis

    def head_number(self):
        return self.chain.get_canonical_head().block_number

    def canonical_hash(self, number):
        return self.chain.chaindb.get_canonical_block_hash(number)

    def header_for(self, tag, name="block"):
        """Header of a block tag / number / EIP-1898 object; pending is the block being built."""
        chain = self.chain
        if isinstance(tag, dict):
            if "blockHash" in tag:
                h = parse_hash(tag["blockHash"], name + ".blockHash")
                try:
                    header = chain.chaindb.get_block_header_by_hash(h)
                except Exception:
                    raise RpcError(SERVER_ERROR, f"header for hash {d(h)} not found") from None
                if tag.get("requireCanonical") and self.canonical_hash(header.block_number) != h:
                    raise RpcError(SERVER_ERROR, f"hash {d(h)} is not currently canonical")
                return header
            if "blockNumber" in tag:
                tag = tag["blockNumber"]
            else:
                raise bad_params(f"{name}: expected blockNumber or blockHash")
        if tag is None or tag in ("latest", "safe", "finalized"):
            return chain.get_canonical_head()
        if tag == "pending":
            return chain.header
        if tag == "earliest":
            return chain.chaindb.get_canonical_block_header_by_number(0)
        number = parse_quantity(tag, name) if isinstance(tag, str) else None
        if number is None:
            raise bad_params(f"{name}: expected a block number or one of {', '.join(_BLOCK_TAGS)}")
        if number > self.head_number():
            raise RpcError(SERVER_ERROR, "header not found")
        return chain.chaindb.get_canonical_block_header_by_number(number)

    def block_number_for(self, tag, name):
        """Number of a block tag for ranges (pending counts as latest: it has no logs)."""
        if tag is None or tag in ("latest", "safe", "finalized", "pending"):
            return self.head_number()
        if tag == "earliest":
            return 0
        return parse_quantity(tag, name)

    def state_at(self, tag, name="block"):
        header = self.header_for(tag, name)
        return self.chain.get_vm(header).state

    def sender_of(self, tx):
        h = tx.hash
        s = self.senders.get(h)
        if s is None:
            s = tx.sender
            self.senders[h] = s
        return s

    def get_block_data(self, block_hash):
        """(block, receipts, tx hashes, logs JSON) of a mined block, cached by hash."""
        data = self.block_data.get(block_hash)
        if data is not None:
            return data
        chain = self.chain
        block = chain.get_block_by_hash(block_hash)
        receipts = block.get_receipts(chain.chaindb)
        tx_hashes = [tx.hash for tx in block.transactions]
        logs = []
        for tx_index, receipt in enumerate(receipts):
            for log in receipt.logs:
                logs.append({
                    "address": addr(log.address),
                    "topics": [d(t.to_bytes(32, "big")) for t in log.topics],
                    "data": d(log.data),
                    "blockNumber": q(block.number),
                    "transactionHash": d(tx_hashes[tx_index]),
                    "transactionIndex": q(tx_index),
                    "blockHash": d(block_hash),
                    "logIndex": q(len(logs)),
                    "removed": False,
                })
        data = (block, receipts, tx_hashes, logs)
        self.block_data.put(block_hash, data)
        return data

    # -- mining ---------------------------------------------------------------------------------

    def mine(self, count):
        hashes = self.backend.mine_blocks(count)
        chaindb = self.chain.chaindb
        for block_hash in hashes:
            if chaindb.get_block_header_by_hash(block_hash).transaction_root == BLANK_ROOT:
                continue  # an empty block
            block = self.chain.get_block_by_hash(block_hash)
            for index, tx in enumerate(block.transactions):
                self.tx_index.setdefault(tx.hash, []).append((block_hash, block.number, index))
        return hashes

    def locate_tx(self, tx_hash):
        """(block hash, index) of a transaction in the canonical chain, or None."""
        head = self.head_number()
        for block_hash, number, index in reversed(self.tx_index.get(tx_hash, ())):
            if number <= head and self.canonical_hash(number) == block_hash:
                return block_hash, index
        return None

    # -- transactions ---------------------------------------------------------------------------

    def send_raw_transaction(self, raw):
        from eth_utils import ValidationError

        if not raw:
            raise bad_params("empty transaction")
        if raw[0] == 3:
            raise bad_params("blob transactions (type 3) are not supported by the dev chain")
        chain = self.chain
        vm = chain.get_vm()
        try:
            tx = vm.get_transaction_builder().decode(raw)
        except Exception as e:
            raise bad_params(f"invalid transaction encoding: {e}") from None
        tx_chain_id = getattr(tx, "chain_id", None)
        if tx_chain_id is None:
            if not self.allow_unprotected:
                raise RpcError(SERVER_ERROR, "only replay-protected (EIP-155) transactions allowed over RPC")
        elif tx_chain_id != self.chain_id:
            raise RpcError(SERVER_ERROR, f"invalid chain id: transaction has {tx_chain_id}, chain is {self.chain_id}")
        try:
            tx.validate()
            sender = self.sender_of(tx)
        except ValidationError as e:
            raise RpcError(SERVER_ERROR, f"invalid transaction: {e}") from None
        except Exception:
            raise RpcError(SERVER_ERROR, "invalid sender") from None
        pending = chain.get_block()
        if any(t.hash == tx.hash for t in pending.transactions):
            raise RpcError(SERVER_ERROR, "already known")
        state = vm.state
        nonce = state.get_nonce(sender)
        if tx.nonce < nonce:
            raise RpcError(SERVER_ERROR, f"nonce too low: next nonce {nonce}, tx nonce {tx.nonce}")
        if tx.nonce > nonce:
            raise RpcError(
                SERVER_ERROR,
                f"nonce too high: next nonce {nonce}, tx nonce {tx.nonce} "
                "(the dev chain has no transaction pool: send transactions in nonce order)",
            )
        base_fee = chain.header.base_fee_per_gas
        max_fee = getattr(tx, "max_fee_per_gas", None)
        if max_fee is None:
            max_fee = tx.gas_price
        if max_fee < base_fee:
            raise RpcError(
                SERVER_ERROR,
                f"max fee per gas less than block base fee: address {d(sender)}, "
                f"maxFeePerGas: {max_fee}, baseFee: {base_fee}",
            )
        if tx.gas > chain.header.gas_limit:
            raise RpcError(SERVER_ERROR, "exceeds block gas limit")
        balance = state.get_balance(sender)
        cost = tx.gas * max_fee + tx.value
        if balance < cost:
            raise RpcError(
                SERVER_ERROR,
                f"insufficient funds for gas * price + value: address {d(sender)} have {balance} want {cost}",
            )
        try:
            chain.apply_transaction(tx)
        except ValidationError as e:
            raise RpcError(SERVER_ERROR, validation_message(e)) from None
        if self.automine:
            self.mine(1)
        return tx.hash

    def _call_transaction(self, obj, header, name):
        """An unsigned transaction from an eth_call object, spoofed to come from `from`."""
        from eth.vm.spoof import SpoofTransaction

        if not isinstance(obj, dict):
            raise bad_params(f"{name}: expected a transaction object")
        sender = parse_address(obj["from"], name + ".from") if obj.get("from") is not None else b"\x00" * 20
        to = parse_address(obj["to"], name + ".to") if obj.get("to") is not None else b""
        if obj.get("data") is not None and obj.get("input") is not None and obj["data"] != obj["input"]:
            raise bad_params(f"{name}: both data and input given, and they differ")
        data_field = obj.get("input") if obj.get("input") is not None else obj.get("data")
        data = parse_data(data_field, name + ".input") if data_field is not None else b""
        value = parse_quantity(obj["value"], name + ".value") if obj.get("value") is not None else 0
        gas = parse_quantity(obj["gas"], name + ".gas") if obj.get("gas") is not None else header.gas_limit
        for key in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"):
            if obj.get(key) is not None:
                parse_quantity(obj[key], f"{name}.{key}")  # validated; calls run at gas price 0
        vm = self.chain.get_vm(header)
        nonce = vm.state.get_nonce(sender)
        unsigned = vm.create_unsigned_transaction(
            nonce=nonce, gas_price=0, gas=min(gas, header.gas_limit), to=to, value=value, data=data
        )
        return vm, SpoofTransaction(unsigned, from_=sender)

    def _run(self, obj, tag, name):
        from eth.exceptions import Revert
        from eth_utils import ValidationError

        header = self.header_for(tag, "block")
        vm, tx = self._call_transaction(obj, header, name)
        try:
            with vm.in_costless_state() as state:
                computation = state.costless_execute_transaction(tx)
        except ValidationError as e:
            raise RpcError(SERVER_ERROR, validation_message(e)) from None
        if computation.is_error:
            error = computation.error
            if isinstance(error, Revert):
                data = error.args[0] if error.args and isinstance(error.args[0], bytes) else b""
                raise RpcError(EXECUTION_REVERTED, decode_revert_reason(data), d(data))
            raise RpcError(SERVER_ERROR, f"execution failed: {type(error).__name__}: {error}")
        return header, vm, tx, computation

    def call(self, obj, tag):
        _, _, _, computation = self._run(obj, tag, "transaction")
        return computation.output

    def estimate_gas(self, obj, tag):
        from eth_utils import ValidationError

        from eth.estimators.gas import binary_gas_search_1000_tolerance

        header, vm, tx, _ = self._run(obj, tag, "transaction")  # reverts surface with their data
        try:
            # Binary search for the least gas that succeeds, to within 1000 gas (py-evm's default
            # search stops within 21000).
            with vm.in_costless_state() as state:
                return binary_gas_search_1000_tolerance(state, tx)
        except ValidationError as e:
            raise RpcError(SERVER_ERROR, validation_message(e)) from None
        except Exception as e:
            raise RpcError(SERVER_ERROR, f"gas estimation failed: {type(e).__name__}: {e}") from None

    # -- JSON views -----------------------------------------------------------------------------

    def tx_json(self, tx, block, index, base_fee):
        type_id = getattr(tx, "type_id", None) or 0
        out = {
            "blockHash": d(block.hash) if block is not None else None,
            "blockNumber": q(block.number) if block is not None else None,
            "from": addr(self.sender_of(tx)),
            "gas": q(tx.gas),
            "hash": d(tx.hash),
            "input": d(tx.data),
            "nonce": q(tx.nonce),
            "to": addr(tx.to),
            "transactionIndex": q(index) if block is not None else None,
            "value": q(tx.value),
            "type": q(type_id),
        }
        if type_id >= 2:
            out["maxFeePerGas"] = q(tx.max_fee_per_gas)
            out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
            if base_fee is not None:
                out["gasPrice"] = q(min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + base_fee))
            else:
                out["gasPrice"] = q(tx.max_fee_per_gas)
        else:
            out["gasPrice"] = q(tx.gas_price)
        if type_id >= 1:
            out["chainId"] = q(tx.chain_id)
            out["accessList"] = [
                {"address": addr(a), "storageKeys": [d(k.to_bytes(32, "big")) for k in keys]}
                for a, keys in (tx.access_list or ())
            ]
            out["v"] = q(tx.y_parity)
            out["yParity"] = q(tx.y_parity)
        else:
            if tx.chain_id is not None:
                out["chainId"] = q(tx.chain_id)
            out["v"] = q(tx.v)
        if type_id == 4:
            out["authorizationList"] = [
                {"chainId": q(a.chain_id), "address": addr(a.address), "nonce": q(a.nonce),
                 "yParity": q(a.y_parity), "r": q(a.r), "s": q(a.s)}
                for a in tx.authorization_list
            ]
        out["r"] = q(tx.r)
        out["s"] = q(tx.s)
        return out

    def block_json(self, block, full, pending=False):
        import rlp

        key = (block.hash, full)
        if not pending:
            cached = self.json_blocks.get(key)
            if cached is not None:
                return cached
        h = block.header
        base_fee = getattr(h, "base_fee_per_gas", None)
        if full:
            txs = [self.tx_json(tx, None if pending else block, i, base_fee)
                   for i, tx in enumerate(block.transactions)]
        else:
            txs = [d(tx.hash) for tx in block.transactions]
        out = {
            "number": q(h.block_number),
            "hash": None if pending else d(h.hash),
            "parentHash": d(h.parent_hash),
            "nonce": None if pending else d(h.nonce),
            "mixHash": d(h.mix_hash),
            "sha3Uncles": d(h.uncles_hash),
            "logsBloom": d(h.bloom.to_bytes(256, "big")),
            "transactionsRoot": d(h.transaction_root),
            "stateRoot": d(h.state_root),
            "receiptsRoot": d(h.receipt_root),
            "miner": addr(h.coinbase),
            "difficulty": q(h.difficulty),
            "extraData": d(h.extra_data),
            "size": q(len(rlp.encode(block))),
            "gasLimit": q(h.gas_limit),
            "gasUsed": q(h.gas_used),
            "timestamp": q(h.timestamp),
            "transactions": txs,
            "uncles": [d(u.hash) for u in block.uncles],
        }
        if base_fee is not None:
            out["baseFeePerGas"] = q(base_fee)
        if hasattr(h, "withdrawals_root"):
            out["withdrawalsRoot"] = d(h.withdrawals_root)
            out["withdrawals"] = [
                {"index": q(w.index), "validatorIndex": q(w.validator_index),
                 "address": addr(w.address), "amount": q(w.amount)}
                for w in (getattr(block, "withdrawals", None) or ())
            ]
        if hasattr(h, "blob_gas_used"):
            out["blobGasUsed"] = q(h.blob_gas_used)
            out["excessBlobGas"] = q(h.excess_blob_gas)
            out["parentBeaconBlockRoot"] = d(h.parent_beacon_block_root)
        if hasattr(h, "requests_hash"):
            out["requestsHash"] = d(h.requests_hash)
        if not pending:
            self.json_blocks.put(key, out)
        return out

    def receipt_json(self, block_hash, index):
        from eth_utils import keccak
        import rlp

        block, receipts, tx_hashes, logs = self.get_block_data(block_hash)
        tx = block.transactions[index]
        receipt = receipts[index]
        sender = self.sender_of(tx)
        type_id = getattr(tx, "type_id", None) or 0
        previous = receipts[index - 1].gas_used if index > 0 else 0
        base_fee = getattr(block.header, "base_fee_per_gas", None)
        if type_id >= 2:
            price = min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + (base_fee or 0))
        else:
            price = tx.gas_price
        contract = None
        if not tx.to:
            contract = keccak(rlp.encode([sender, tx.nonce]))[12:]
        tx_logs = [log for log in logs if log["transactionHash"] == d(tx_hashes[index])]
        status = int.from_bytes(receipt.state_root, "big") if len(receipt.state_root) <= 1 else 1
        return {
            "transactionHash": d(tx_hashes[index]),
            "transactionIndex": q(index),
            "blockHash": d(block_hash),
            "blockNumber": q(block.number),
            "from": addr(sender),
            "to": addr(tx.to),
            "cumulativeGasUsed": q(receipt.gas_used),
            "gasUsed": q(receipt.gas_used - previous),
            "effectiveGasPrice": q(price),
            "contractAddress": addr(contract),
            "logs": tx_logs,
            "logsBloom": d(receipt.bloom.to_bytes(256, "big")),
            "status": q(status),
            "type": q(type_id),
        }

    # -- logs -----------------------------------------------------------------------------------

    def _bloom_of(self, block_hash):
        from eth_bloom import BloomFilter

        entry = self.log_index.get(block_hash)
        if entry is None:
            header = self.chain.chaindb.get_block_header_by_hash(block_hash)
            entry = [BloomFilter(header.bloom), None if header.bloom else []]
            self.log_index.put(block_hash, entry)
        return entry

    def get_logs(self, flt):
        if not isinstance(flt, dict):
            raise bad_params("filter: expected an object")
        unknown = set(flt) - {"fromBlock", "toBlock", "address", "topics", "blockHash"}
        if unknown:
            raise bad_params(f"filter: unknown field(s) {', '.join(sorted(unknown))}")
        addresses = flt.get("address")
        if addresses is None:
            addresses = []
        elif isinstance(addresses, str):
            addresses = [addresses]
        elif not isinstance(addresses, list):
            raise bad_params("filter.address: expected an address or an array of addresses")
        addresses = {parse_address(a, "filter.address") for a in addresses}
        topics = flt.get("topics") or []
        if not isinstance(topics, list) or len(topics) > 4:
            raise bad_params("filter.topics: expected an array of at most 4 entries")
        topic_sets = []
        for i, t in enumerate(topics):
            if t is None:
                topic_sets.append(None)
            elif isinstance(t, str):
                topic_sets.append({d(parse_hash(t, f"filter.topics[{i}]"))})
            elif isinstance(t, list):
                alternatives = {d(parse_hash(x, f"filter.topics[{i}]")) for x in t if x is not None}
                topic_sets.append(None if not alternatives or None in t else alternatives)
            else:
                raise bad_params(f"filter.topics[{i}]: expected null, a hash or an array of hashes")
        address_hex = {addr(a) for a in addresses}

        if flt.get("blockHash") is not None:
            if flt.get("fromBlock") is not None or flt.get("toBlock") is not None:
                raise bad_params("filter: blockHash cannot be combined with fromBlock/toBlock")
            h = parse_hash(flt["blockHash"], "filter.blockHash")
            try:
                number = self.chain.chaindb.get_block_header_by_hash(h).block_number
            except Exception:
                number = None
            # Unknown, or orphaned by a revert (as eth_getBlockByHash, which returns null then).
            if number is None or number > self.head_number() or self.canonical_hash(number) != h:
                raise RpcError(SERVER_ERROR, "unknown block")
            hashes = [h]
        else:
            head = self.head_number()
            start = self.block_number_for(flt.get("fromBlock"), "filter.fromBlock")
            end = min(self.block_number_for(flt.get("toBlock"), "filter.toBlock"), head)
            if start > head:
                return []
            if start > end:
                raise bad_params(f"invalid block range params: fromBlock {start} > toBlock {end}")
            if end - start + 1 > self.max_log_range:
                raise RpcError(
                    LIMIT_EXCEEDED,
                    f"block range too large: {end - start + 1} blocks, the limit is {self.max_log_range}",
                )
            hashes = [self.canonical_hash(n) for n in range(start, end + 1)]

        results = []
        for h in hashes:
            entry = self._bloom_of(h)
            bloom, logs = entry
            if logs is None:
                if addresses and not any(a in bloom for a in addresses):
                    continue
                if any(s is not None and not any(bytes.fromhex(t[2:]) in bloom for t in s) for s in topic_sets):
                    continue
                logs = self.get_block_data(h)[3]
                entry[1] = logs
            for log in logs:
                if address_hex and log["address"] not in address_hex:
                    continue
                if len(topic_sets) > len(log["topics"]):
                    continue  # as geth: a filter with more positions than the log has topics
                if any(s is not None and log["topics"][i] not in s for i, s in enumerate(topic_sets)):
                    continue
                results.append(log)
                if len(results) > self.max_log_results:
                    raise RpcError(LIMIT_EXCEEDED, f"query returned more than {self.max_log_results} results")
        return results

    # -- fee history ----------------------------------------------------------------------------

    def fee_history(self, count, newest_tag, percentiles):
        count = min(count, 1024)
        chaindb = self.chain.chaindb
        head = self.head_number()
        newest = self.block_number_for(newest_tag, "newestBlock")
        if newest > head:
            raise RpcError(SERVER_ERROR, "header not found")
        if count == 0:
            return {"oldestBlock": q(0), "baseFeePerGas": [], "gasUsedRatio": []}
        oldest = max(0, newest - count + 1)
        base_fees, ratios, rewards = [], [], []
        for n in range(oldest, newest + 1):
            header = chaindb.get_canonical_block_header_by_number(n)
            base_fee = header.base_fee_per_gas
            base_fees.append(q(base_fee))
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                rewards.append([q(r) for r in self._rewards(header, base_fee, percentiles)])
        # The base fee of the block after the newest one: the pending block's for the head.
        if newest == head:
            next_fee = self.chain.header.base_fee_per_gas
        else:
            next_fee = chaindb.get_canonical_block_header_by_number(newest + 1).base_fee_per_gas
        base_fees.append(q(next_fee))
        out = {"oldestBlock": q(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
        if percentiles:
            out["reward"] = rewards
        return out

    def _rewards(self, header, base_fee, percentiles):
        if header.gas_used == 0:
            return [0] * len(percentiles)
        block, receipts, _, _ = self.get_block_data(header.hash)
        items = []
        previous = 0
        for tx, receipt in zip(block.transactions, receipts):
            used = receipt.gas_used - previous
            previous = receipt.gas_used
            if getattr(tx, "type_id", 0) and tx.type_id >= 2:
                tip = min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base_fee)
            else:
                tip = tx.gas_price - base_fee
            items.append((tip, used))
        items.sort()
        out = []
        index, total = 0, items[0][1]
        for p in percentiles:
            threshold = int(header.gas_used * p / 100)
            while total < threshold and index < len(items) - 1:
                index += 1
                total += items[index][1]
            out.append(items[index][0])
        return out

    # -- dev-only ---------------------------------------------------------------------------

    def snapshot(self):
        sid = self.next_snapshot
        self.next_snapshot += 1
        self.snapshots[sid] = self.backend.take_snapshot()
        return sid

    def revert(self, sid):
        block_hash = self.snapshots.get(sid)
        if block_hash is None:
            return False
        self.backend.revert_to_snapshot(block_hash)
        for later in [k for k in self.snapshots if k >= sid]:
            del self.snapshots[later]
        return True

    def reorg(self, depth, new_blocks):
        """Replace the newest `depth` blocks by `new_blocks` fresh (empty) ones in one step."""
        head = self.head_number()
        if depth > head:
            raise bad_params(f"depth: at most the head number {head}")
        ancestor = head - depth
        orphaned = [d(self.canonical_hash(n)) for n in range(ancestor + 1, head + 1)]
        self.backend.revert_to_snapshot(self.canonical_hash(ancestor))
        self.mine(new_blocks)
        return {"commonAncestor": q(ancestor), "orphaned": orphaned, "head": q(self.head_number())}

    def fund(self, to, wei):
        """A real transfer from the faucet (the last dev account); returns its hash."""
        from eth_account import Account
        from eth_utils import to_checksum_address

        key = self.keys[-1]
        faucet = key.public_key.to_canonical_address()
        state = self.chain.get_vm().state
        tx = Account.sign_transaction(
            {
                "chainId": self.chain_id,
                "nonce": state.get_nonce(faucet),
                "to": to_checksum_address(to),
                "value": wei,
                "gas": 21000,
                "maxFeePerGas": 2 * self.chain.header.base_fee_per_gas + self.priority_fee,
                "maxPriorityFeePerGas": self.priority_fee,
                "type": 2,
            },
            key.to_bytes(),
        )
        return self.send_raw_transaction(bytes(tx.raw_transaction))

    # -- deployment -----------------------------------------------------------------------------

    def deploy(self, artifact, ctor_types, ctor_args):
        """Deploy from account 0 (the owner / admin) and mine it; returns (address, tx hash, block)."""
        from eth_abi import encode
        from eth_account import Account

        key = self.keys[0]
        deployer = key.public_key.to_canonical_address()
        code = bytes.fromhex(artifact["bytecode"][2:]) + encode(ctor_types, ctor_args)
        state = self.chain.get_vm().state
        tx = Account.sign_transaction(
            {
                "chainId": self.chain_id,
                "nonce": state.get_nonce(deployer),
                "to": None,
                "value": 0,
                "data": code,
                "gas": 8_000_000,
                "maxFeePerGas": 2 * self.chain.header.base_fee_per_gas + self.priority_fee,
                "maxPriorityFeePerGas": self.priority_fee,
                "type": 2,
            },
            key.to_bytes(),
        )
        automine, self.automine = self.automine, True
        try:
            tx_hash = self.send_raw_transaction(bytes(tx.raw_transaction))
        finally:
            self.automine = automine
        located = self.locate_tx(tx_hash)
        receipt = self.receipt_json(*located)
        if receipt["status"] != "0x1" or not receipt["contractAddress"]:
            raise RuntimeError(f"deploying {artifact['contractName']} failed: {receipt}")
        return receipt["contractAddress"], d(tx_hash), int(receipt["blockNumber"], 16)


# ---------------------------------------------------------------------------------------------
# JSON-RPC methods


class RpcApp:
    def __init__(self, devchain, max_batch):
        self.dc = devchain
        self.max_batch = max_batch
        self.client_version = self._client_version()
        self.methods = {
            "web3_clientVersion": self.web3_clientVersion,
            "net_version": self.net_version,
            "eth_chainId": self.eth_chainId,
            "eth_syncing": self.eth_syncing,
            "eth_accounts": self.eth_accounts,
            "eth_blockNumber": self.eth_blockNumber,
            "eth_getBlockByNumber": self.eth_getBlockByNumber,
            "eth_getBlockByHash": self.eth_getBlockByHash,
            "eth_getLogs": self.eth_getLogs,
            "eth_getTransactionCount": self.eth_getTransactionCount,
            "eth_getBalance": self.eth_getBalance,
            "eth_getCode": self.eth_getCode,
            "eth_getStorageAt": self.eth_getStorageAt,
            "eth_sendRawTransaction": self.eth_sendRawTransaction,
            "eth_getTransactionByHash": self.eth_getTransactionByHash,
            "eth_getTransactionReceipt": self.eth_getTransactionReceipt,
            "eth_call": self.eth_call,
            "eth_estimateGas": self.eth_estimateGas,
            "eth_feeHistory": self.eth_feeHistory,
            "eth_gasPrice": self.eth_gasPrice,
            "eth_maxPriorityFeePerGas": self.eth_maxPriorityFeePerGas,
            "evm_snapshot": self.evm_snapshot,
            "evm_revert": self.evm_revert,
            "evm_mine": self.evm_mine,
            "evm_setAutomine": self.evm_setAutomine,
            "dev_reorg": self.dev_reorg,
            "dev_fundAccount": self.dev_fundAccount,
            "dev_deployments": self.dev_deployments,
        }

    @staticmethod
    def _client_version():
        from importlib.metadata import version

        parts = [f"vn-devchain/v{SERVER_VERSION}"]
        for dist in ("py-evm", "eth-tester"):
            try:
                parts.append(f"{dist}-{version(dist)}")
            except Exception:
                pass
        parts.append("python-" + ".".join(map(str, sys.version_info[:3])))
        return "/".join(parts)

    # -- envelope -------------------------------------------------------------------------------

    def handle_body(self, body):
        """Bytes in, bytes out (None: nothing to send back, i.e. only notifications)."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            return self._encode(self._error(None, RpcError(PARSE_ERROR, f"parse error: {e}")))
        if isinstance(payload, list):
            if not payload:
                return self._encode(self._error(None, RpcError(INVALID_REQUEST, "empty batch")))
            if len(payload) > self.max_batch:
                return self._encode(self._error(
                    None, RpcError(INVALID_REQUEST, f"batch too large: {len(payload)} > {self.max_batch}")))
            responses = [r for r in (self._handle_one(item) for item in payload) if r is not None]
            return self._encode(responses) if responses else None
        response = self._handle_one(payload)
        return self._encode(response) if response is not None else None

    @staticmethod
    def _encode(obj):
        return json.dumps(obj, separators=(",", ":")).encode()

    @staticmethod
    def _error(req_id, err):
        return {"jsonrpc": "2.0", "id": req_id, "error": err.to_json()}

    def _handle_one(self, req):
        if not isinstance(req, dict):
            return self._error(None, RpcError(INVALID_REQUEST, "invalid request: expected an object"))
        req_id = req.get("id")
        is_notification = "id" not in req
        if req_id is not None and not isinstance(req_id, (str, int, float)) or isinstance(req_id, bool):
            return self._error(None, RpcError(INVALID_REQUEST, "invalid request: bad id"))
        if req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return self._error(req_id, RpcError(INVALID_REQUEST, 'invalid request: need "jsonrpc": "2.0" and a method'))
        method = self.methods.get(req["method"])
        try:
            if method is None:
                raise RpcError(METHOD_NOT_FOUND, f"the method {req['method']} does not exist/is not available")
            params = req.get("params", [])
            if params is not None and not isinstance(params, list):
                raise bad_params("params must be an array")
            with self.dc.lock:
                result = method(params or [])
        except RpcError as e:
            if is_notification:
                return None
            return self._error(req_id, e)
        except Exception as e:  # a bug or an unexpected py-evm error: report, keep serving
            sys.stderr.write(f"internal error in {req.get('method')}: {type(e).__name__}: {e}\n")
            if is_notification:
                return None
            return self._error(req_id, RpcError(INTERNAL_ERROR, f"internal error: {type(e).__name__}: {e}"))
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "id": req_id, "result": result}

    # -- methods --------------------------------------------------------------------------------

    def web3_clientVersion(self, params):
        expect_params(params, 0, 0, "web3_clientVersion")
        return self.client_version

    def net_version(self, params):
        expect_params(params, 0, 0, "net_version")
        return str(self.dc.chain_id)

    def eth_chainId(self, params):
        expect_params(params, 0, 0, "eth_chainId")
        return q(self.dc.chain_id)

    def eth_syncing(self, params):
        expect_params(params, 0, 0, "eth_syncing")
        return False

    def eth_accounts(self, params):
        expect_params(params, 0, 0, "eth_accounts")
        return [addr(k.public_key.to_canonical_address()) for k in self.dc.keys]

    def eth_blockNumber(self, params):
        expect_params(params, 0, 0, "eth_blockNumber")
        return q(self.dc.head_number())

    def eth_getBlockByNumber(self, params):
        tag, full = expect_params(params, 2, 2, "eth_getBlockByNumber")
        full = parse_bool(full, "fullTransactions")
        dc = self.dc
        if tag == "pending":
            return dc.block_json(dc.chain.get_block(), full, pending=True)
        if isinstance(tag, str) and tag not in _BLOCK_TAGS:
            number = parse_quantity(tag, "block")
            if number > dc.head_number():
                return None
        elif not isinstance(tag, str):
            raise bad_params(f"block: expected a block number or one of {', '.join(_BLOCK_TAGS)}")
        header = dc.header_for(tag)
        return dc.block_json(dc.chain.get_block_by_hash(header.hash), full)

    def eth_getBlockByHash(self, params):
        h, full = expect_params(params, 2, 2, "eth_getBlockByHash")
        h = parse_hash(h, "blockHash")
        full = parse_bool(full, "fullTransactions")
        dc = self.dc
        try:
            header = dc.chain.chaindb.get_block_header_by_hash(h)
        except Exception:
            return None
        if header.block_number > dc.head_number() or dc.canonical_hash(header.block_number) != h:
            return None  # unknown, or orphaned by a revert
        return dc.block_json(dc.chain.get_block_by_hash(h), full)

    def eth_getLogs(self, params):
        (flt,) = expect_params(params, 1, 1, "eth_getLogs")
        return self.dc.get_logs(flt)

    def eth_getTransactionCount(self, params):
        a, tag = expect_params(params, 1, 2, "eth_getTransactionCount")
        return q(self.dc.state_at(tag).get_nonce(parse_address(a, "address")))

    def eth_getBalance(self, params):
        a, tag = expect_params(params, 1, 2, "eth_getBalance")
        return q(self.dc.state_at(tag).get_balance(parse_address(a, "address")))

    def eth_getCode(self, params):
        a, tag = expect_params(params, 1, 2, "eth_getCode")
        return d(self.dc.state_at(tag).get_code(parse_address(a, "address")))

    def eth_getStorageAt(self, params):
        a, slot, tag = expect_params(params, 2, 3, "eth_getStorageAt")
        account = parse_address(a, "address")
        if isinstance(slot, str) and _HASH_RE.match(slot):
            position = int(slot, 16)
        else:
            position = parse_quantity(slot, "position")
        value = self.dc.state_at(tag).get_storage(account, position)
        return d(value.to_bytes(32, "big"))

    def eth_sendRawTransaction(self, params):
        (raw,) = expect_params(params, 1, 1, "eth_sendRawTransaction")
        return d(self.dc.send_raw_transaction(parse_data(raw, "transaction")))

    def eth_getTransactionByHash(self, params):
        (h,) = expect_params(params, 1, 1, "eth_getTransactionByHash")
        h = parse_hash(h, "transactionHash")
        dc = self.dc
        located = dc.locate_tx(h)
        if located is not None:
            block = dc.get_block_data(located[0])[0]
            return dc.tx_json(block.transactions[located[1]], block, located[1],
                              getattr(block.header, "base_fee_per_gas", None))
        for index, tx in enumerate(dc.chain.get_block().transactions):
            if tx.hash == h:
                return dc.tx_json(tx, None, index, None)
        return None

    def eth_getTransactionReceipt(self, params):
        (h,) = expect_params(params, 1, 1, "eth_getTransactionReceipt")
        located = self.dc.locate_tx(parse_hash(h, "transactionHash"))
        return None if located is None else self.dc.receipt_json(*located)

    def eth_call(self, params):
        obj, tag = expect_params(params, 1, 3, "eth_call")[:2]
        if len(params) == 3 and params[2] is not None:
            raise bad_params("eth_call: state overrides are not supported")
        return d(self.dc.call(obj, tag))

    def eth_estimateGas(self, params):
        obj, tag = expect_params(params, 1, 2, "eth_estimateGas")
        return q(self.dc.estimate_gas(obj, tag))

    def eth_feeHistory(self, params):
        count, newest, percentiles = expect_params(params, 2, 3, "eth_feeHistory")
        count = parse_int_or_quantity(count, "blockCount")
        if newest is not None and not isinstance(newest, str):
            raise bad_params("newestBlock: expected a block number or tag")
        if percentiles is None:
            percentiles = []
        if not isinstance(percentiles, list) or len(percentiles) > 100:
            raise bad_params("rewardPercentiles: expected an array of at most 100 numbers")
        previous = 0
        for p in percentiles:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100 or p < previous:
                raise bad_params("rewardPercentiles: numbers in [0, 100], non-decreasing")
            previous = p
        return self.dc.fee_history(count, newest, percentiles)

    def eth_gasPrice(self, params):
        expect_params(params, 0, 0, "eth_gasPrice")
        return q(self.dc.chain.header.base_fee_per_gas + self.dc.priority_fee)

    def eth_maxPriorityFeePerGas(self, params):
        expect_params(params, 0, 0, "eth_maxPriorityFeePerGas")
        return q(self.dc.priority_fee)

    def evm_snapshot(self, params):
        expect_params(params, 0, 0, "evm_snapshot")
        return q(self.dc.snapshot())

    def evm_revert(self, params):
        (sid,) = expect_params(params, 1, 1, "evm_revert")
        return self.dc.revert(parse_int_or_quantity(sid, "snapshotId"))

    def evm_mine(self, params):
        (count,) = expect_params(params, 0, 1, "evm_mine")
        count = 1 if count is None else parse_int_or_quantity(count, "blocks")
        if not 1 <= count <= 10_000:
            raise bad_params("blocks: between 1 and 10000")
        self.dc.mine(count)
        return q(self.dc.head_number())

    def evm_setAutomine(self, params):
        (on,) = expect_params(params, 1, 1, "evm_setAutomine")
        dc = self.dc
        dc.automine = parse_bool(on, "enabled")
        if dc.automine and dc.chain.get_block().transactions:
            dc.mine(1)  # what was queued while automine was off goes into one block now
        return True

    def dev_reorg(self, params):
        depth, new_blocks = expect_params(params, 1, 2, "dev_reorg")
        depth = parse_int_or_quantity(depth, "depth")
        new_blocks = depth + 1 if new_blocks is None else parse_int_or_quantity(new_blocks, "newBlocks")
        if not 1 <= depth <= 10_000 or not 0 <= new_blocks <= 10_000:
            raise bad_params("depth: 1..10000, newBlocks: 0..10000")
        return self.dc.reorg(depth, new_blocks)

    def dev_fundAccount(self, params):
        a, wei = expect_params(params, 2, 2, "dev_fundAccount")
        return d(self.dc.fund(parse_address(a, "address"), parse_int_or_quantity(wei, "wei")))

    def dev_deployments(self, params):
        expect_params(params, 0, 0, "dev_deployments")
        return self.dc.deployments


# ---------------------------------------------------------------------------------------------
# HTTP


def make_handler(app, max_body, verbose):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "vn-devchain/" + SERVER_VERSION
        sys_version = ""
        timeout = 120  # idle keep-alive connections end after this

        def handle_expect_100(self):
            # Refuse an oversized body before the client sends it (libcurl asks with
            # "Expect: 100-continue" for bodies over 1 KiB).
            try:
                too_large = int(self.headers.get("Content-Length", "0")) > max_body
            except ValueError:
                too_large = False
            if too_large:
                self._error(413, INVALID_REQUEST, "request body too large", close=True)
                return False
            return super().handle_expect_100()

        def _send(self, status, body, content_type="application/json", close=False):
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body or b"")))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _error(self, status, code, message, close=False):
            body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})
            self._send(status, body.encode(), close=close)

        def do_POST(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._error(411, INVALID_REQUEST, "chunked bodies are not supported: send Content-Length", close=True)
            length = self.headers.get("Content-Length")
            try:
                length = int(length)
                if length < 0:
                    raise ValueError
            except (TypeError, ValueError):
                return self._error(411, INVALID_REQUEST, "Content-Length required", close=True)
            if length > max_body:
                # Read what the client is sending anyway (up to a bound), so that it sees the
                # answer instead of a broken pipe; then close the connection.
                remaining = length if length <= 16 * max_body else 0
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                return self._error(413, INVALID_REQUEST, f"request body too large: {length} > {max_body} bytes", close=True)
            body = self.rfile.read(length)
            response = app.handle_body(body)
            if response is None:
                self._send(204, None)
            else:
                self._send(200, response)

        def do_GET(self):
            self.send_response(405)
            self.send_header("Allow", "POST")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

        def log_message(self, fmt, *args):
            if verbose:
                sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


# ---------------------------------------------------------------------------------------------
# main


def write_json_atomically(path, obj):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Dev EVM chain: JSON-RPC over HTTP on 127.0.0.1 (py-evm).")
    p.add_argument("--port", type=int, default=8545, help="TCP port on 127.0.0.1; 0 picks a free one (default 8545)")
    p.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID, help=f"chain id (default {DEFAULT_CHAIN_ID})")
    p.add_argument("--accounts", type=int, default=10, help="pre-funded dev accounts (default 10)")
    p.add_argument("--balance-eth", type=int, default=DEFAULT_BALANCE // 10**18, help="each dev account's ETH (default 1000000)")
    p.add_argument("--no-automine", action="store_true", help="start with automine off (evm_mine mines)")
    p.add_argument("--inbox-signer", default=None, help="the Inbox's initial signer (default: dev account 1)")
    p.add_argument("--inbox-min-fee", type=int, default=0, help="Inbox minimum request fee in wei (default 0)")
    p.add_argument("--no-contracts", action="store_true", help="deploy nothing")
    p.add_argument("--deployments", default=None, help="write the deployed addresses (JSON) to this file")
    p.add_argument("--ready-file", default=None, help="write {port, pid, url, chainId} (JSON) here once listening")
    p.add_argument("--max-body-bytes", type=int, default=5 * 1024 * 1024, help="request body cap (default 5 MiB)")
    p.add_argument("--max-batch", type=int, default=1000, help="requests per batch (default 1000)")
    p.add_argument("--max-log-range", type=int, default=10_000, help="eth_getLogs block range cap (default 10000)")
    p.add_argument("--max-log-results", type=int, default=10_000, help="eth_getLogs result cap (default 10000)")
    p.add_argument("--priority-fee", type=int, default=DEFAULT_PRIORITY_FEE, help="suggested tip in wei (default 1 gwei)")
    p.add_argument("--allow-unprotected-txs", action="store_true", help="accept legacy transactions without EIP-155 chain id")
    p.add_argument("--quiet", action="store_true", help="print only the READY line")
    p.add_argument("--verbose", action="store_true", help="log every HTTP request on stderr")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error("--port: 0..65535")
    if not 1 <= args.chain_id < 2**64:
        p.error("--chain-id: 1 .. 2^64-1")
    if not 2 <= args.accounts <= 100:
        p.error("--accounts: 2..100")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    log = lambda msg: sys.stderr.write(msg + "\n")  # noqa: E731

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    dc = DevChain(
        chain_id=args.chain_id,
        accounts=args.accounts,
        balance=args.balance_eth * 10**18,
        priority_fee=args.priority_fee,
        allow_unprotected=args.allow_unprotected_txs,
        max_log_range=args.max_log_range,
        max_log_results=args.max_log_results,
    )
    accounts = [
        {"address": addr(k.public_key.to_canonical_address()), "privateKey": d(k.to_bytes())}
        for k in dc.keys
    ]
    deployments = {
        "chainId": args.chain_id,
        "accounts": accounts,
        "owner": accounts[0]["address"],
        "faucet": accounts[-1]["address"],
        "contracts": {},
    }
    if not args.no_contracts:
        signer = accounts[1]["address"] if args.inbox_signer is None else args.inbox_signer.lower()
        parse_address(signer, "--inbox-signer")
        inbox = build_contracts.load_or_compile("Inbox", log)
        staking = build_contracts.load_or_compile("Staking", log)
        with dc.lock:
            address, tx_hash, block = dc.deploy(inbox, ["address", "uint256"], [signer, args.inbox_min_fee])
            deployments["contracts"]["Inbox"] = {
                "address": address, "transactionHash": tx_hash, "blockNumber": block,
                "signer": signer, "minFee": args.inbox_min_fee,
                "artifact": os.path.join(build_contracts.BUILD_DIR, "Inbox.json"),
            }
            staking_args = [20_000 * 10**18, 100_000 * 10**18, 21 * 24 * 3600, 1000]
            address, tx_hash, block = dc.deploy(staking, ["uint256"] * 4, staking_args)
            deployments["contracts"]["Staking"] = {
                "address": address, "transactionHash": tx_hash, "blockNumber": block,
                "minLock": staking_args[0], "maxLock": staking_args[1],
                "exitDelay": staking_args[2], "epochLength": staking_args[3],
                "artifact": os.path.join(build_contracts.BUILD_DIR, "Staking.json"),
            }
    dc.automine = not args.no_automine

    try:
        server = Server((LISTEN_HOST, args.port),
                        make_handler(RpcApp(dc, args.max_batch), args.max_body_bytes, args.verbose))
    except OSError as e:
        log(f"vn-devchain: cannot listen on {LISTEN_HOST}:{args.port}: {e.strerror or e}")
        return 1
    port = server.server_address[1]
    url = f"http://{LISTEN_HOST}:{port}"
    deployments["rpcUrl"] = url
    dc.deployments = deployments
    if args.deployments:
        write_json_atomically(args.deployments, deployments)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()

    say(f"vn-devchain {SERVER_VERSION}: chain id {args.chain_id}, {len(accounts)} dev accounts "
        f"({args.balance_eth} ETH each; mnemonic \"{DEV_MNEMONIC}\", path {DEV_HD_PATH}/i)")
    for i, a in enumerate(accounts):
        role = " (owner)" if i == 0 else " (inbox signer)" if (i == 1 and args.inbox_signer is None) else \
            " (faucet)" if i == len(accounts) - 1 else ""
        say(f"  account {i}: {a['address']} key {a['privateKey']}{role}")
    for name, c in deployments["contracts"].items():
        say(f"  {name}: {c['address']} (block {c['blockNumber']})")
    say(f"  automine: {'on' if dc.automine else 'off'}; started in {time.monotonic() - started:.2f}s")
    if args.ready_file:
        write_json_atomically(args.ready_file, {
            "port": port, "pid": os.getpid(), "url": url, "chainId": args.chain_id,
            "deployments": os.path.abspath(args.deployments) if args.deployments else None,
        })
    print(f"READY port={port} chain_id={args.chain_id} url={url}", flush=True)

    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if args.ready_file:
        try:
            os.remove(args.ready_file)
        except FileNotFoundError:
            pass
    say("vn-devchain: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
