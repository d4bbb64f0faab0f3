"""Tests of the dev chain: a real server on a free loopback port, driven over HTTP JSON-RPC.

Run through Deploy/devchain/test.sh (it sets up the venv). One server serves the whole module;
tests that change global state (signer, automine, snapshots) put it back.
"""

import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_keys import keys
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

HERE = os.path.dirname(os.path.abspath(__file__))
DEVCHAIN = os.path.dirname(HERE)
sys.path.insert(0, DEVCHAIN)

import build_contracts  # noqa: E402

CHAIN_ID = 31337
MAX_LOG_RANGE = 200
MAX_BODY = 256 * 1024
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 order
QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")

# Dev accounts of the well-known mnemonic (server.py DEV_MNEMONIC, path m/44'/60'/0'/0/i).
OWNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SIGNER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
USER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
OTHER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
SPARE_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"


class RpcFailure(Exception):
    def __init__(self, error):
        super().__init__(f"{error['code']}: {error['message']}")
        self.code = error["code"]
        self.message = error["message"]
        self.data = error.get("data")


class Chain:
    def __init__(self, url, deployments, proc):
        self.url = url
        self.deployments = deployments
        self.proc = proc
        self.inbox = deployments["contracts"]["Inbox"]["address"]
        self.staking = deployments["contracts"]["Staking"]["address"]
        self._id = 0

    def post(self, payload, raw=False, headers=None):
        body = payload if raw else json.dumps(payload).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                data = r.read()
                return r.status, (json.loads(data) if data else None)
        except urllib.error.HTTPError as e:
            data = e.read()
            return e.code, (json.loads(data) if data else None)

    def rpc(self, method, *params):
        self._id += 1
        status, resp = self.post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
        assert status == 200, (status, resp)
        assert resp["jsonrpc"] == "2.0" and resp["id"] == self._id
        if "error" in resp:
            raise RpcFailure(resp["error"])
        return resp["result"]

    # -- transactions --

    def send(self, key, to=None, data=b"", value=0, gas=None, legacy=False, chain_id=CHAIN_ID, nonce=None):
        """Sign with eth-account, send raw, return the receipt (automine) or the hash."""
        acct = Account.from_key(key)
        if nonce is None:
            nonce = int(self.rpc("eth_getTransactionCount", acct.address, "pending"), 16)
        tx = {"chainId": chain_id, "nonce": nonce, "to": to and to_checksum_address(to), "value": value, "data": data}
        if gas is None:
            call = {"from": acct.address, "data": "0x" + data.hex(), "value": hex(value)}
            if to:
                call["to"] = to
            gas = int(self.rpc("eth_estimateGas", call), 16)
        tx["gas"] = gas
        if legacy:
            tx["gasPrice"] = int(self.rpc("eth_gasPrice"), 16)
        else:
            base = int(self.rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"], 16)
            tx.update({"type": 2, "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 2 * base + 10**9})
        if to is None:
            del tx["to"]
        signed = Account.sign_transaction(tx, key)
        return self.rpc("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())

    def transact(self, key, to, data, value=0, expect_status=1, gas=None):
        tx_hash = self.send(key, to=to, data=data, value=value, gas=gas)
        receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None, "automine: the receipt is there at once"
        assert receipt["status"] == hex(expect_status), receipt
        return receipt

    def call(self, to, data, sender=None, block="latest"):
        obj = {"to": to, "data": "0x" + data.hex()}
        if sender:
            obj["from"] = sender
        return bytes.fromhex(self.rpc("eth_call", obj, block)[2:])


def calldata(signature, types=(), args=()):
    return function_signature_to_4byte_selector(signature) + encode(list(types), list(args))


def topic(signature):
    return "0x" + keccak(text=signature).hex()


def address_of(key):
    return Account.from_key(key).address.lower()


def sign_digest(key, digest, v_offset=27, high_s=False):
    """65-byte r || s || v over a raw 32-byte digest; low s unless high_s."""
    sig = keys.PrivateKey(bytes.fromhex(key[2:])).sign_msg_hash(digest)
    r, s, v = sig.r, sig.s, sig.v
    if s > N // 2:
        s, v = N - s, v ^ 1
    if high_s:
        s, v = N - s, v ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + v_offset])


def message(version, epoch, ids, values):
    return encode(["uint256", "uint256", "uint256[]", "bytes[]"], [version, epoch, ids, values])


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("devchain")
    ready = tmp / "ready.json"
    deployments = tmp / "deployments.json"
    log = open(tmp / "server.log", "w+")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(DEVCHAIN, "server.py"), "--port", "0", "--chain-id", str(CHAIN_ID),
         "--ready-file", str(ready), "--deployments", str(deployments),
         "--max-log-range", str(MAX_LOG_RANGE), "--max-body-bytes", str(MAX_BODY), "--quiet"],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )
    try:
        ready_in_time, _, _ = select.select([proc.stdout], [], [], 90)
        assert ready_in_time, "no READY line within 90 s"
        line = proc.stdout.readline()  # the READY line (--quiet prints nothing else)
        assert line.startswith("READY port="), (line, open(tmp / "server.log").read())
        port = int(re.search(r"port=(\d+)", line).group(1))
        print(f"\ndev chain ready in {time.monotonic() - started:.2f}s on port {port}")
        info = json.loads(ready.read_text())
        assert info["port"] == port and info["pid"] == proc.pid
        c = Chain(f"http://127.0.0.1:{port}", json.loads(deployments.read_text()), proc)
        yield c
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail("the server ignored SIGTERM")
            assert code == 0, f"exit code {code} after SIGTERM"
            assert not ready.exists(), "the ready file is removed on shutdown"
        log.close()


# ---------------------------------------------------------------------------------------------
# Server basics


def test_listens_on_loopback_only(chain):
    port = int(chain.url.rsplit(":", 1)[1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                listening.append(local.split(":")[0])
    assert listening == ["0100007F"], listening  # 127.0.0.1 only, no 0.0.0.0 or ::


def test_identity_methods(chain):
    assert chain.rpc("eth_chainId") == hex(CHAIN_ID)
    assert chain.rpc("net_version") == str(CHAIN_ID)
    assert chain.rpc("web3_clientVersion").startswith("vn-devchain/")
    assert chain.rpc("eth_syncing") is False
    accounts = chain.rpc("eth_accounts")
    assert accounts[0] == address_of(OWNER_KEY) and accounts[1] == address_of(SIGNER_KEY)
    assert chain.deployments["chainId"] == CHAIN_ID and chain.deployments["rpcUrl"] == chain.url
    assert chain.rpc("dev_deployments")["contracts"]["Inbox"]["address"] == chain.inbox


def test_state_methods(chain):
    owner = address_of(OWNER_KEY)
    assert int(chain.rpc("eth_getBalance", owner, "latest"), 16) > 10**18
    assert int(chain.rpc("eth_getBalance", "0x000000000000000000000000000000000000dead"), 16) >= 0
    assert int(chain.rpc("eth_getTransactionCount", owner, "latest"), 16) >= 2  # the two deployments
    assert chain.rpc("eth_getTransactionCount", owner, "earliest") == "0x0"
    code = chain.rpc("eth_getCode", chain.inbox, "latest")
    assert code == build_contracts.load_artifact("Inbox")["deployedBytecode"]
    assert chain.rpc("eth_getCode", chain.inbox, "earliest") == "0x"
    assert chain.rpc("eth_getCode", owner) == "0x"
    # Inbox storage slot 0 is the owner.
    slot0 = chain.rpc("eth_getStorageAt", chain.inbox, "0x0", "latest")
    assert slot0 == "0x" + "00" * 12 + owner[2:]
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_getBalance", owner, hex(10**9))
    assert e.value.code == -32000 and "header not found" in e.value.message


def test_blocks(chain):
    head = int(chain.rpc("eth_blockNumber"), 16)
    latest = chain.rpc("eth_getBlockByNumber", "latest", False)
    assert int(latest["number"], 16) == head
    by_number = chain.rpc("eth_getBlockByNumber", hex(head), True)
    assert by_number["hash"] == latest["hash"]
    assert chain.rpc("eth_getBlockByHash", latest["hash"], False)["number"] == latest["number"]
    parent = chain.rpc("eth_getBlockByNumber", hex(head - 1), False)
    assert latest["parentHash"] == parent["hash"]
    genesis = chain.rpc("eth_getBlockByNumber", "earliest", False)
    assert genesis["number"] == "0x0" and genesis["transactions"] == []
    assert chain.rpc("eth_getBlockByNumber", "safe", False)["hash"] == latest["hash"]
    assert chain.rpc("eth_getBlockByNumber", "finalized", False)["hash"] == latest["hash"]
    pending = chain.rpc("eth_getBlockByNumber", "pending", False)
    assert int(pending["number"], 16) == head + 1 and pending["hash"] is None
    assert chain.rpc("eth_getBlockByNumber", hex(head + 100), False) is None
    assert chain.rpc("eth_getBlockByHash", "0x" + "ab" * 32, False) is None

    deploy_block = chain.deployments["contracts"]["Inbox"]["blockNumber"]
    full = chain.rpc("eth_getBlockByNumber", hex(deploy_block), True)
    tx = full["transactions"][0]
    assert tx["hash"] == chain.deployments["contracts"]["Inbox"]["transactionHash"]
    assert tx["blockHash"] == full["hash"] and tx["to"] is None and tx["type"] == "0x2"
    assert tx["from"] == address_of(OWNER_KEY) and tx["chainId"] == hex(CHAIN_ID)
    for key in ("number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "size", "difficulty"):
        assert QUANTITY.match(full[key]), (key, full[key])
    for key in ("nonce", "gas", "value", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice", "v", "r", "s"):
        assert QUANTITY.match(tx[key]), (key, tx[key])
    assert len(full["logsBloom"]) == 2 + 512
    assert chain.rpc("eth_getTransactionByHash", tx["hash"])["blockNumber"] == hex(deploy_block)
    assert chain.rpc("eth_getTransactionByHash", "0x" + "cd" * 32) is None


# ---------------------------------------------------------------------------------------------
# JSON-RPC envelope and errors


def test_jsonrpc_errors(chain):
    def error_of(payload, raw=False):
        status, resp = chain.post(payload, raw=raw)
        assert status == 200, (status, resp)
        return resp["error"]["code"], resp

    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_nope"})[0] == -32601
    assert error_of(b'{"jsonrpc": "2.0", "id": 1, "method"', raw=True)[0] == -32700
    assert error_of({"id": 1, "method": "eth_chainId"})[0] == -32600
    assert error_of([])[0] == -32600
    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x1234"]})[0] == -32602
    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance",
                     "params": [address_of(OWNER_KEY), "0x01"]})[0] == -32602  # leading zero
    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": [1]})[0] == -32602
    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest"]})[0] == -32602
    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x1"]})[0] == -32602
    assert error_of({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x02c0"]})[0] == -32602


def test_batch_and_notifications(chain):
    status, resp = chain.post([
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": "b", "method": "eth_nope"},
        {"jsonrpc": "2.0", "method": "eth_chainId"},  # notification: no response
        {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []},
        5,
    ])
    assert status == 200
    by_id = {r["id"]: r for r in resp}
    assert len(resp) == 4
    assert by_id["a"]["result"] == hex(CHAIN_ID)
    assert by_id["b"]["error"]["code"] == -32601
    assert QUANTITY.match(by_id[7]["result"])
    assert by_id[None]["error"]["code"] == -32600
    status, resp = chain.post({"jsonrpc": "2.0", "method": "eth_chainId"})
    assert status == 204 and resp is None


def test_http_limits(chain):
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"data": "0x" + "00" * MAX_BODY}]})
    status, resp = chain.post(big.encode(), raw=True)
    assert status == 413 and resp["error"]["code"] == -32600
    with urllib.request.urlopen(urllib.request.Request(chain.url, method="POST", data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
                                                       headers={"Content-Type": "application/json"})) as r:
        assert json.load(r)["result"] == hex(CHAIN_ID)  # still serving
    host, port = chain.url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().status == 405
    conn.close()
    # keep-alive: several requests on one connection
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    for i in range(3):
        conn.request("POST", "/", body=json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert json.loads(r.read())["id"] == i
    conn.close()


# ---------------------------------------------------------------------------------------------
# Transactions


def test_signed_transactions_are_mined(chain):
    to = "0x000000000000000000000000000000000000beef"
    before = int(chain.rpc("eth_getBalance", to), 16)
    head = int(chain.rpc("eth_blockNumber"), 16)
    tx_hash = chain.send(USER_KEY, to=to, value=12345, gas=21000)
    receipt = chain.rpc("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and receipt["blockNumber"] == hex(head + 1)
    assert receipt["from"] == address_of(USER_KEY) and receipt["to"] == to
    assert receipt["gasUsed"] == hex(21000) and receipt["contractAddress"] is None
    assert int(chain.rpc("eth_getBalance", to), 16) == before + 12345
    assert chain.rpc("eth_getBlockByNumber", "latest", False)["transactions"] == [tx_hash]
    block = chain.rpc("eth_getBlockByNumber", "latest", False)
    assert int(receipt["effectiveGasPrice"], 16) == int(block["baseFeePerGas"], 16) + 10**9

    legacy = chain.send(USER_KEY, to=to, value=1, gas=21000, legacy=True)  # EIP-155 legacy
    receipt = chain.rpc("eth_getTransactionReceipt", legacy)
    assert receipt["status"] == "0x1" and receipt["type"] == "0x0"
    tx = chain.rpc("eth_getTransactionByHash", legacy)
    assert tx["chainId"] == hex(CHAIN_ID) and int(tx["v"], 16) in (2 * CHAIN_ID + 35, 2 * CHAIN_ID + 36)


def test_rejected_transactions(chain):
    to = "0x000000000000000000000000000000000000beef"

    def rejected(**kw):
        with pytest.raises(RpcFailure) as e:
            chain.send(kw.pop("key", USER_KEY), to=to, value=kw.pop("value", 1), gas=kw.pop("gas", 21000), **kw)
        return e.value

    assert "invalid chain id" in rejected(chain_id=CHAIN_ID + 1).message
    nonce = int(chain.rpc("eth_getTransactionCount", address_of(USER_KEY)), 16)
    assert "nonce too low" in rejected(nonce=nonce - 1).message
    assert "nonce too high" in rejected(nonce=nonce + 1).message
    assert "insufficient funds" in rejected(key="0x" + "11" * 32).message
    assert rejected(gas=20000).code == -32000  # below the intrinsic 21000
    # unprotected (pre-EIP-155) legacy transaction
    unprotected = Account.sign_transaction({"nonce": nonce, "to": to_checksum_address(to), "value": 1, "gas": 21000, "gasPrice": 10**10}, USER_KEY)
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_sendRawTransaction", "0x" + bytes(unprotected.raw_transaction).hex())
    assert "EIP-155" in e.value.message
    assert chain.rpc("eth_getTransactionCount", address_of(USER_KEY)) == hex(nonce)


def test_call_estimate_and_revert_data(chain):
    user = address_of(USER_KEY)
    assert chain.rpc("eth_estimateGas", {"from": user, "to": "0x000000000000000000000000000000000000beef", "value": "0x1"}) == hex(21000)
    signer = chain.call(chain.inbox, calldata("signer()"))
    assert decode(["address"], signer)[0].lower() == chain.deployments["contracts"]["Inbox"]["signer"]
    # owner-only function called by someone else: code 3, Error(string) data
    data = calldata("setMinFee(uint256)", ["uint256"], [5])
    for method in ("eth_call", "eth_estimateGas"):
        with pytest.raises(RpcFailure) as e:
            chain.rpc(method, {"from": user, "to": chain.inbox, "data": "0x" + data.hex()}, "latest")
        assert e.value.code == 3 and e.value.message == "execution reverted: not owner"
        assert e.value.data.startswith("0x08c379a0")
        assert decode(["string"], bytes.fromhex(e.value.data[10:]))[0] == "not owner"
    # the estimate is enough, and within 1000 gas of the least that works
    owner = address_of(OWNER_KEY)
    est = int(chain.rpc("eth_estimateGas", {"from": owner, "to": chain.inbox, "data": "0x" + data.hex()}), 16)
    with pytest.raises(RpcFailure):
        chain.rpc("eth_call", {"from": owner, "to": chain.inbox, "data": "0x" + data.hex(), "gas": hex(est - 1500)})
    receipt = chain.transact(OWNER_KEY, chain.inbox, calldata("setMinFee(uint256)", ["uint256"], [0]), gas=est)
    assert int(receipt["gasUsed"], 16) <= est


def test_fee_history_and_gas_price(chain):
    chain.send(USER_KEY, to="0x000000000000000000000000000000000000beef", value=1, gas=21000)
    head = int(chain.rpc("eth_blockNumber"), 16)
    fh = chain.rpc("eth_feeHistory", "0x4", "latest", [25, 75])
    assert fh["oldestBlock"] == hex(head - 3)
    assert len(fh["baseFeePerGas"]) == 5 and len(fh["gasUsedRatio"]) == 4 and len(fh["reward"]) == 4
    for i in range(4):
        block = chain.rpc("eth_getBlockByNumber", hex(head - 3 + i), False)
        assert fh["baseFeePerGas"][i] == block["baseFeePerGas"]  # block i's own base fee
        assert fh["gasUsedRatio"][i] == pytest.approx(int(block["gasUsed"], 16) / int(block["gasLimit"], 16))
    pending = chain.rpc("eth_getBlockByNumber", "pending", False)
    assert fh["baseFeePerGas"][4] == pending["baseFeePerGas"]  # the next block's
    assert fh["reward"][3] == [hex(10**9), hex(10**9)]  # the 1 gwei tip of the transfer
    fh = chain.rpc("eth_feeHistory", 2, hex(head - 1))  # decimal count, no percentiles
    assert fh["oldestBlock"] == hex(head - 2) and "reward" not in fh
    assert fh["baseFeePerGas"][2] == chain.rpc("eth_getBlockByNumber", hex(head), False)["baseFeePerGas"]
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_feeHistory", "0x2", "latest", [50, 10])
    assert e.value.code == -32602
    assert int(chain.rpc("eth_gasPrice"), 16) == int(pending["baseFeePerGas"], 16) + 10**9
    assert chain.rpc("eth_maxPriorityFeePerGas") == hex(10**9)


def test_web3_client_works_against_the_server(chain):
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(chain.url))
    assert w3.is_connected() and w3.eth.chain_id == CHAIN_ID
    inbox = w3.eth.contract(address=Web3.to_checksum_address(chain.inbox),
                            abi=build_contracts.load_artifact("Inbox")["abi"])
    assert inbox.functions.minFee().call() == 0
    acct = Account.from_key(SPARE_KEY)
    tx = inbox.functions.request("ipfs://c", b"\x01", ["https://a"], 1, 1).build_transaction({
        "from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address), "chainId": CHAIN_ID, "value": 7,
    })
    signed = acct.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt.status == 1
    (event,) = inbox.events.RequestCreated().process_receipt(receipt)
    assert event.args.containerURL == "ipfs://c" and event.args.fee == 7
    assert w3.eth.get_block("latest").number == receipt.blockNumber
    assert len(w3.eth.fee_history(3, "latest", [50])["reward"]) == 3


def test_throughput(chain):
    acct = Account.from_key(SPARE_KEY)
    nonce = int(chain.rpc("eth_getTransactionCount", acct.address, "pending"), 16)
    base = int(chain.rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"], 16)
    raws = [
        "0x" + bytes(Account.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce + i, "to": to_checksum_address("0x000000000000000000000000000000000000beef"),
                                               "value": 1, "gas": 21000, "type": 2, "maxPriorityFeePerGas": 10**9,
                                               "maxFeePerGas": 4 * base + 10**9}, SPARE_KEY).raw_transaction).hex()
        for i in range(60)
    ]
    start = time.monotonic()
    for raw in raws:
        chain.rpc("eth_sendRawTransaction", raw)
    rate = len(raws) / (time.monotonic() - start)
    print(f"\nthroughput: {rate:.0f} tx/s (one block per transaction)")
    assert rate > 10


# ---------------------------------------------------------------------------------------------
# Inbox


REQUEST_SIG = "request(string,bytes,string[],uint256,uint256)"
REQUEST_CREATED = topic("RequestCreated(uint256,address,uint256,string,bytes,string[],uint256,uint256,uint256)")
REQUEST_FULFILLED = topic("RequestFulfilled(uint256)")
SIGNER_ROTATED = topic("SignerRotated(address,address,uint256)")


def make_request(chain, key=USER_KEY, url="docker://oracle/price:1", params=b"\x00\x01pair=ETH-USD",
                 sources=("https://a.example/p", "https://b.example/q"), target=10, confirmations=3, fee=10**15,
                 gas=None):
    data = calldata(REQUEST_SIG, ["string", "bytes", "string[]", "uint256", "uint256"],
                    [url, params, list(sources), target, confirmations])
    receipt = chain.transact(key, chain.inbox, data, value=fee, gas=gas)
    (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == REQUEST_CREATED]
    return int(log["topics"][1], 16), receipt, log


def test_request_created_log_fields(chain):
    count_before = decode(["uint256"], chain.call(chain.inbox, calldata("requestCount()")))[0]
    rid, receipt, log = make_request(chain)
    assert rid == (CHAIN_ID << 128) | (count_before + 1)
    rid2, _, _ = make_request(chain, confirmations=0, sources=())
    assert rid2 == rid + 1  # monotonically increasing
    assert log["address"] == chain.inbox
    assert log["topics"][2] == "0x" + "00" * 12 + address_of(USER_KEY)[2:]  # indexed sender
    fields = decode(["uint256", "string", "bytes", "string[]", "uint256", "uint256", "uint256"],
                    bytes.fromhex(log["data"][2:]))
    assert fields == (CHAIN_ID, "docker://oracle/price:1", b"\x00\x01pair=ETH-USD",
                      ("https://a.example/p", "https://b.example/q"), 10, 10**15, 3)
    assert decode(["uint256"], chain.call(chain.inbox, calldata("requestCount()")))[0] == count_before + 2
    # eth_getLogs finds it by address + event + id
    logs = chain.rpc("eth_getLogs", {"fromBlock": receipt["blockNumber"], "toBlock": receipt["blockNumber"],
                                     "address": chain.inbox, "topics": [REQUEST_CREATED, log["topics"][1]]})
    assert logs == [log]
    assert logs[0]["removed"] is False
    # the fee is held by the inbox
    assert int(chain.rpc("eth_getBalance", chain.inbox), 16) >= 2 * 10**15
    # bad requests revert with reasons
    for args, reason in (
        (["", b"", [], 1, 1], "empty container URL"),
        (["u", b"", [], 0, 1], "zero target chain"),
        (["u", b"", [], 1, 10001], "too many confirmations"),
    ):
        with pytest.raises(RpcFailure) as e:
            chain.rpc("eth_call", {"from": address_of(USER_KEY), "to": chain.inbox,
                                   "data": "0x" + calldata(REQUEST_SIG, ["string", "bytes", "string[]", "uint256", "uint256"], args).hex()})
        assert e.value.code == 3 and e.value.message == "execution reverted: " + reason
    chain.transact(OWNER_KEY, chain.inbox, calldata("setMinFee(uint256)", ["uint256"], [10**16]))
    try:
        with pytest.raises(RpcFailure) as e:
            chain.rpc("eth_estimateGas", {"from": address_of(USER_KEY), "to": chain.inbox, "value": hex(10**15),
                                          "data": "0x" + calldata(REQUEST_SIG, ["string", "bytes", "string[]", "uint256", "uint256"], ["u", b"", [], 1, 1]).hex()})
        assert e.value.message == "execution reverted: fee too low"
    finally:
        chain.transact(OWNER_KEY, chain.inbox, calldata("setMinFee(uint256)", ["uint256"], [0]))


def current_signer(chain):
    return decode(["address"], chain.call(chain.inbox, calldata("signer()")))[0].lower()


def fulfill_data(msg, sig):
    return calldata("fulfill(bytes,bytes)", ["bytes", "bytes"], [msg, sig])


def expect_revert(chain, to, data, reason, sender=USER_KEY):
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_call", {"from": address_of(sender), "to": to, "data": "0x" + data.hex()})
    assert e.value.code == 3, e.value.message
    assert e.value.message == "execution reverted: " + reason


def test_fulfill(chain):
    assert current_signer(chain) == address_of(SIGNER_KEY)
    id1, _, _ = make_request(chain)
    id2, _, _ = make_request(chain)
    foreign = ((CHAIN_ID + 1) << 128) | 1  # another chain's request in the same signed block
    msg = message(1, 42, [id1, foreign, id2], [b"\x01" * 32, b"other chain", b"result two"])
    digest = keccak(msg)
    good = sign_digest(SIGNER_KEY, digest)

    # tampered message, wrong signer, malleable high-s: all rejected
    tampered = message(1, 42, [id1, foreign, id2], [b"\x02" * 32, b"other chain", b"result two"])
    expect_revert(chain, chain.inbox, fulfill_data(tampered, good), "bad signature")
    expect_revert(chain, chain.inbox, fulfill_data(msg, sign_digest(OTHER_KEY, digest)), "bad signature")
    high_s = sign_digest(SIGNER_KEY, digest, high_s=True)
    assert int.from_bytes(high_s[32:64], "big") > N // 2
    expect_revert(chain, chain.inbox, fulfill_data(msg, high_s), "high-s signature")
    expect_revert(chain, chain.inbox, fulfill_data(msg, good[:64]), "bad signature length")
    expect_revert(chain, chain.inbox, fulfill_data(msg, good[:64] + b"\x1d"), "bad signature v")
    # the prefixed (EIP-191) digest is not what the inbox verifies
    prefixed = keccak(b"\x19Ethereum Signed Message:\n32" + digest)
    expect_revert(chain, chain.inbox, fulfill_data(msg, sign_digest(SIGNER_KEY, prefixed)), "bad signature")
    # a rejected transaction on chain too
    chain.transact(USER_KEY, chain.inbox, fulfill_data(tampered, good), expect_status=0, gas=500_000)

    # the correct one, with v as 0/1 (27/28 is tested below)
    receipt = chain.transact(USER_KEY, chain.inbox, fulfill_data(msg, sign_digest(SIGNER_KEY, digest, v_offset=0)))
    fulfilled = [int(entry["topics"][1], 16) for entry in receipt["logs"] if entry["topics"][0] == REQUEST_FULFILLED]
    assert fulfilled == [id1, id2]  # the other chain's id skipped
    for rid, value in ((id1, b"\x01" * 32), (id2, b"result two")):
        assert decode(["bool"], chain.call(chain.inbox, calldata("fulfilled(uint256)", ["uint256"], [rid])))[0] is True
        assert decode(["bytes"], chain.call(chain.inbox, calldata("results(uint256)", ["uint256"], [rid])))[0] == value

    # replay, unknown ids, other chains only, bad version, mismatched lengths
    expect_revert(chain, chain.inbox, fulfill_data(msg, good), "already fulfilled")
    count = decode(["uint256"], chain.call(chain.inbox, calldata("requestCount()")))[0]
    for m, reason in (
        (message(1, 43, [(CHAIN_ID << 128) | (count + 1)], [b"x"]), "unknown request"),
        (message(1, 43, [CHAIN_ID << 128], [b"x"]), "unknown request"),
        (message(1, 43, [foreign], [b"x"]), "no request of this chain"),
        (message(2, 43, [id1], [b"x"]), "unsupported version"),
        (message(1, 43, [id1, id2], [b"x"]), "length mismatch"),
    ):
        expect_revert(chain, chain.inbox, fulfill_data(m, sign_digest(SIGNER_KEY, keccak(m))), reason)
    id3, _, _ = make_request(chain)
    m = message(1, 44, [id3], [b"v"])
    chain.transact(USER_KEY, chain.inbox, fulfill_data(m, sign_digest(SIGNER_KEY, keccak(m), v_offset=27)))


def test_fulfill_largest_message(chain):
    started = time.monotonic()
    ids = [make_request(chain, key=SPARE_KEY, sources=(), gas=300_000)[0] for _ in range(64)]
    print(f"\n64 requests in {time.monotonic() - started:.2f}s")
    values = [bytes([i]) * 256 for i in range(64)]
    m = message(1, 60, ids, values)
    assert len(m) == 22720  # Inbox MAX_MESSAGE_LEN
    started = time.monotonic()
    receipt = chain.transact(SPARE_KEY, chain.inbox, fulfill_data(m, sign_digest(SIGNER_KEY, keccak(m))), gas=16_000_000)
    print(f"fulfill of 64 x 256-byte values: {int(receipt['gasUsed'], 16)} gas, {time.monotonic() - started:.2f}s")
    assert decode(["bytes"], chain.call(chain.inbox, calldata("results(uint256)", ["uint256"], [ids[63]])))[0] == values[63]
    too_many = message(1, 61, ids + [ids[0]], values + [b""])
    with pytest.raises(RpcFailure):  # 65 entries do not fit the bounded message
        chain.rpc("eth_call", {"to": chain.inbox, "data": "0x" + fulfill_data(too_many, sign_digest(SIGNER_KEY, keccak(too_many))).hex()})


def power_transfer_digest(inbox, nonce, new_signer):
    return keccak(encode(
        ["bytes32", "uint256", "uint256", "address", "uint256", "address"],
        [keccak(text="vn-power-transfer"), 1, CHAIN_ID, inbox, nonce, new_signer],
    ))


def test_rotate_signer(chain):
    assert current_signer(chain) == address_of(SIGNER_KEY)
    nonce = decode(["uint256"], chain.call(chain.inbox, calldata("signerNonce()")))[0]
    new = address_of(OTHER_KEY)
    digest = power_transfer_digest(chain.inbox, nonce, new)
    on_chain = chain.call(chain.inbox, calldata("powerTransferDigest(address)", ["address"], [new]))
    assert on_chain == digest

    rotate = lambda signer, sig: calldata("rotateSigner(address,bytes)", ["address", "bytes"], [signer, sig])  # noqa: E731
    expect_revert(chain, chain.inbox, rotate(new, sign_digest(OTHER_KEY, digest)), "bad signature")  # not the current signer
    expect_revert(chain, chain.inbox, rotate(address_of(SPARE_KEY), sign_digest(SIGNER_KEY, digest)), "bad signature")  # other signer
    expect_revert(chain, chain.inbox, rotate(new, sign_digest(SIGNER_KEY, power_transfer_digest(chain.inbox, nonce + 1, new))), "bad signature")
    expect_revert(chain, chain.inbox, rotate(new, sign_digest(SIGNER_KEY, digest, high_s=True)), "high-s signature")

    sig = sign_digest(SIGNER_KEY, digest)
    receipt = chain.transact(USER_KEY, chain.inbox, rotate(new, sig))  # anyone may relay it
    (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == SIGNER_ROTATED]
    assert log["topics"][1] == "0x" + "00" * 12 + address_of(SIGNER_KEY)[2:]
    assert log["topics"][2] == "0x" + "00" * 12 + new[2:]
    assert decode(["uint256"], bytes.fromhex(log["data"][2:]))[0] == nonce + 1
    assert current_signer(chain) == new
    assert decode(["uint256"], chain.call(chain.inbox, calldata("signerNonce()")))[0] == nonce + 1
    expect_revert(chain, chain.inbox, rotate(new, sig), "bad signature")  # replay

    # the old signer's results are refused now, the new signer's accepted
    rid, _, _ = make_request(chain)
    m = message(1, 50, [rid], [b"ok"])
    expect_revert(chain, chain.inbox, fulfill_data(m, sign_digest(SIGNER_KEY, keccak(m))), "bad signature")
    chain.transact(USER_KEY, chain.inbox, fulfill_data(m, sign_digest(OTHER_KEY, keccak(m))))

    # the administrator's emergency path, owner only; it puts the first signer back
    emergency = calldata("emergencySetSigner(address)", ["address"], [address_of(SIGNER_KEY)])
    expect_revert(chain, chain.inbox, emergency, "not owner")
    chain.transact(OWNER_KEY, chain.inbox, emergency)
    assert current_signer(chain) == address_of(SIGNER_KEY)
    assert decode(["uint256"], chain.call(chain.inbox, calldata("signerNonce()")))[0] == nonce + 2


# ---------------------------------------------------------------------------------------------
# Reorgs, mining, automine


def test_snapshot_revert_reorg(chain):
    base = int(chain.rpc("eth_blockNumber"), 16)
    sid = chain.rpc("evm_snapshot")
    assert QUANTITY.match(sid)
    rid, receipt, log = make_request(chain, url="docker://orphan")
    chain.rpc("evm_mine", 2)
    old = [chain.rpc("eth_getBlockByNumber", hex(n), False)["hash"] for n in range(base + 1, base + 4)]
    assert receipt["blockNumber"] == hex(base + 1)

    assert chain.rpc("evm_revert", sid) is True
    assert chain.rpc("eth_blockNumber") == hex(base)
    assert chain.rpc("eth_getBlockByNumber", hex(base + 1), False) is None
    assert chain.rpc("eth_getTransactionReceipt", receipt["transactionHash"]) is None
    assert chain.rpc("eth_getTransactionByHash", receipt["transactionHash"]) is None
    assert chain.rpc("eth_getBlockByHash", old[0], False) is None

    rid2, receipt2, log2 = make_request(chain, url="docker://canonical")
    assert rid2 == rid  # the same id, now for a different request
    chain.rpc("evm_mine", "0x2")
    assert chain.rpc("eth_blockNumber") == hex(base + 3)
    new = [chain.rpc("eth_getBlockByNumber", hex(n), False)["hash"] for n in range(base + 1, base + 4)]
    assert all(a != b for a, b in zip(old, new)), "every replaced block has a new hash"
    assert chain.rpc("eth_getBlockByNumber", hex(base + 1), False)["parentHash"] == \
        chain.rpc("eth_getBlockByNumber", hex(base), False)["hash"]
    logs = chain.rpc("eth_getLogs", {"fromBlock": hex(base), "toBlock": "latest", "address": chain.inbox,
                                     "topics": [REQUEST_CREATED]})
    assert logs == [log2] and log2["blockHash"] == new[0] != log["blockHash"]
    with pytest.raises(RpcFailure) as e:  # the orphaned block is gone, like eth_getBlockByHash says
        chain.rpc("eth_getLogs", {"blockHash": log["blockHash"]})
    assert e.value.code == -32000 and e.value.message == "unknown block"
    assert chain.rpc("evm_revert", sid) is False  # used up
    assert chain.rpc("evm_revert", "0x999") is False


def test_dev_reorg_in_one_step(chain):
    rid, receipt, log = make_request(chain, url="docker://reorged")
    chain.rpc("evm_mine", 1)
    head = int(chain.rpc("eth_blockNumber"), 16)
    old = [chain.rpc("eth_getBlockByNumber", hex(n), False)["hash"] for n in (head - 1, head)]
    out = chain.rpc("dev_reorg", 2)  # 2 blocks out, 3 new ones in: the head rises, never drops
    assert out == {"commonAncestor": hex(head - 2), "orphaned": old, "head": hex(head + 1)}
    assert chain.rpc("eth_getTransactionReceipt", receipt["transactionHash"]) is None
    assert chain.rpc("eth_getLogs", {"fromBlock": hex(head - 1), "address": chain.inbox}) == []
    assert [chain.rpc("eth_getBlockByNumber", hex(n), False)["hash"] for n in (head - 1, head)] != old
    assert chain.rpc("dev_reorg", "0x1", 0)["head"] == hex(head)  # a shorter chain when asked


def test_automine_off_and_mining(chain):
    head = int(chain.rpc("eth_blockNumber"), 16)
    assert chain.rpc("evm_mine") == hex(head + 1)
    assert chain.rpc("evm_mine", 5) == hex(head + 6)
    head += 6
    user = address_of(USER_KEY)
    nonce = int(chain.rpc("eth_getTransactionCount", user, "latest"), 16)
    assert chain.rpc("evm_setAutomine", False) is True
    try:
        base = int(chain.rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"], 16)
        raw = [
            "0x" + bytes(Account.sign_transaction({
                "chainId": CHAIN_ID, "nonce": nonce + i, "to": to_checksum_address("0x000000000000000000000000000000000000beef"), "value": 1,
                "gas": 21000, "type": 2, "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 2 * base + 10**9,
            }, USER_KEY).raw_transaction).hex()
            for i in range(2)
        ]
        h1 = chain.rpc("eth_sendRawTransaction", raw[0])
        h2 = chain.rpc("eth_sendRawTransaction", raw[1])
        assert chain.rpc("eth_blockNumber") == hex(head)
        assert chain.rpc("eth_getTransactionReceipt", h1) is None
        assert chain.rpc("eth_getTransactionByHash", h2)["blockHash"] is None
        assert chain.rpc("eth_getTransactionCount", user, "latest") == hex(nonce)
        assert chain.rpc("eth_getTransactionCount", user, "pending") == hex(nonce + 2)
        assert chain.rpc("eth_getBlockByNumber", "pending", False)["transactions"] == [h1, h2]
        with pytest.raises(RpcFailure) as e:
            chain.rpc("eth_sendRawTransaction", raw[0])
        assert e.value.message == "already known"
        assert chain.rpc("evm_mine") == hex(head + 1)
        block = chain.rpc("eth_getBlockByNumber", "latest", False)
        assert block["transactions"] == [h1, h2]
        r2 = chain.rpc("eth_getTransactionReceipt", h2)
        assert r2["transactionIndex"] == "0x1" and r2["cumulativeGasUsed"] == hex(42000) and r2["gasUsed"] == hex(21000)
    finally:
        assert chain.rpc("evm_setAutomine", True) is True


def test_dev_fund_account(chain):
    target = Account.create().address.lower()
    tx_hash = chain.rpc("dev_fundAccount", target, hex(10**18))
    assert chain.rpc("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
    assert chain.rpc("eth_getBalance", target) == hex(10**18)
    assert chain.rpc("eth_getTransactionByHash", tx_hash)["from"] == chain.deployments["faucet"]


# ---------------------------------------------------------------------------------------------
# Logs


def test_get_logs_filters_and_limits(chain):
    a, ra, la = make_request(chain, key=USER_KEY)
    b, rb, lb = make_request(chain, key=OTHER_KEY)
    start, end = ra["blockNumber"], rb["blockNumber"]
    user_topic = "0x" + "00" * 12 + address_of(USER_KEY)[2:]
    other_topic = "0x" + "00" * 12 + address_of(OTHER_KEY)[2:]
    get = lambda **f: chain.rpc("eth_getLogs", {"fromBlock": start, "toBlock": end, **f})  # noqa: E731
    assert get(address=chain.inbox) == [la, lb]
    assert get(address=[chain.staking, chain.inbox]) == [la, lb]
    assert get(address=chain.staking) == []
    assert get(topics=[REQUEST_CREATED, None, user_topic]) == [la]
    assert get(topics=[None, None, [user_topic, other_topic]]) == [la, lb]
    assert get(topics=[REQUEST_CREATED, hex(b)[2:].rjust(64, "0").join(["0x", ""])]) == [lb]
    assert get(topics=[REQUEST_CREATED, None, None, None]) == []  # RequestCreated has 3 topics
    assert chain.rpc("eth_getLogs", {"blockHash": ra["blockHash"], "address": chain.inbox}) == [la]
    assert chain.rpc("eth_getLogs", {"fromBlock": hex(10**6)}) == []
    assert chain.rpc("eth_getLogs", {}) == chain.rpc("eth_getLogs", {"fromBlock": "latest", "toBlock": "latest"})
    # log indexes count across the block
    block_logs = chain.rpc("eth_getLogs", {"blockHash": ra["blockHash"]})
    assert [entry["logIndex"] for entry in block_logs] == [hex(i) for i in range(len(block_logs))]
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_getLogs", {"fromBlock": end, "toBlock": start})
    assert e.value.code == -32602
    head = int(chain.rpc("eth_blockNumber"), 16)
    if head < MAX_LOG_RANGE:
        chain.rpc("evm_mine", MAX_LOG_RANGE - head)
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert e.value.code == -32005 and "block range too large" in e.value.message
    started = time.monotonic()
    logs = chain.rpc("eth_getLogs", {"fromBlock": hex(int(chain.rpc("eth_blockNumber"), 16) - MAX_LOG_RANGE + 1),
                                     "address": chain.inbox, "topics": [REQUEST_CREATED]})
    assert la in logs and lb in logs
    print(f"\neth_getLogs over {MAX_LOG_RANGE} blocks: {1000 * (time.monotonic() - started):.1f} ms")
    with pytest.raises(RpcFailure) as e:
        chain.rpc("eth_getLogs", {"fromBlock": start, "blockHash": ra["blockHash"]})
    assert e.value.code == -32602


# ---------------------------------------------------------------------------------------------
# Staking (Metis L1 events)


METIS_EVENTS = {
    "Locked": "Locked(address,uint256,uint256,uint256,uint256,uint256,bytes)",
    "UnlockInit": "UnlockInit(address,uint256,uint256,uint256,uint256,uint256,uint256)",
    "LockUpdate": "LockUpdate(uint256,uint256,uint256)",
    "SignerChange": "SignerChange(uint256,uint256,address,address,bytes)",
    "BatchSubmitReward": "BatchSubmitReward(uint256)",
    "UpdateEpochLength": "UpdateEpochLength(uint256,uint256,uint256)",
}


def test_staking_emits_every_metis_event(chain):
    staking = chain.staking
    abi = build_contracts.load_artifact("Staking")["abi"]
    for name, sig in METIS_EVENTS.items():
        (entry,) = [e for e in abi if e["type"] == "event" and e["name"] == name]
        assert f"{name}({','.join(i['type'] for i in entry['inputs'])})" == sig

    def one(receipt, name):
        (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == topic(METIS_EVENTS[name])]
        assert log["address"] == staking
        return [int(t, 16) for t in log["topics"][1:]], bytes.fromhex(log["data"][2:])

    seq_key = keys.PrivateKey(keccak(text="sequencer-1"))
    pubkey = seq_key.public_key.to_bytes()
    seq_signer = seq_key.public_key.to_checksum_address().lower()
    amount = 30_000 * 10**18
    total_before = decode(["uint256"], chain.call(staking, calldata("totalLocked()")))[0]
    batch = decode(["uint256"], chain.call(staking, calldata("currentBatch()")))[0]

    expect_revert(chain, staking, calldata("lockFor(address,uint256,bytes)", ["address", "uint256", "bytes"],
                                           [address_of(USER_KEY), amount, pubkey]), "pubkey does not match signer")
    expect_revert(chain, staking, calldata("lockFor(address,uint256,bytes)", ["address", "uint256", "bytes"],
                                           [seq_signer, 10**18, pubkey]), "amount out of bounds")
    r = chain.transact(USER_KEY, staking, calldata("lockFor(address,uint256,bytes)", ["address", "uint256", "bytes"],
                                                   [seq_signer, amount, pubkey]))
    topics, data = one(r, "Locked")
    seq_id = topics[1]
    assert topics == [int(seq_signer, 16), seq_id, batch]
    assert decode(["uint256", "uint256", "uint256", "bytes"], data) == (1, amount, total_before + amount, pubkey)

    r = chain.transact(USER_KEY, staking, calldata("relock(uint256,uint256)", ["uint256", "uint256"], [seq_id, 5 * 10**18]))
    topics, data = one(r, "LockUpdate")
    assert topics == [seq_id, 2, amount + 5 * 10**18] and data == b""

    new_key = keys.PrivateKey(keccak(text="sequencer-1-new"))
    new_pub = new_key.public_key.to_bytes()
    r = chain.transact(USER_KEY, staking, calldata("updateSigner(uint256,bytes)", ["uint256", "bytes"], [seq_id, new_pub]))
    topics, data = one(r, "SignerChange")
    assert topics == [seq_id, int(seq_signer, 16), int(new_key.public_key.to_checksum_address(), 16)]
    assert decode(["uint256", "bytes"], data) == (3, new_pub)

    expect_revert(chain, staking, calldata("batchSubmitReward(uint256)", ["uint256"], [batch + 1]), "not admin")
    r = chain.transact(OWNER_KEY, staking, calldata("batchSubmitReward(uint256)", ["uint256"], [batch + 7]))
    topics, data = one(r, "BatchSubmitReward")
    assert topics == [] and decode(["uint256"], data) == (batch + 7,)

    old_len = decode(["uint256"], chain.call(staking, calldata("epochLength()")))[0]
    r = chain.transact(OWNER_KEY, staking, calldata("updateEpochLength(uint256)", ["uint256"], [old_len + 10]))
    topics, data = one(r, "UpdateEpochLength")
    assert topics == [] and decode(["uint256", "uint256", "uint256"], data) == (old_len, old_len + 10, batch + 8)

    expect_revert(chain, staking, calldata("unlock(uint256)", ["uint256"], [seq_id]), "not sequencer owner", sender=OTHER_KEY)
    r = chain.transact(USER_KEY, staking, calldata("unlock(uint256)", ["uint256"], [seq_id]))
    topics, data = one(r, "UnlockInit")
    assert topics == [int(address_of(USER_KEY), 16), seq_id, amount + 5 * 10**18]
    nonce, deact_batch, deact_time, claim_time = decode(["uint256"] * 4, data)
    block = chain.rpc("eth_getBlockByNumber", r["blockNumber"], False)
    assert (nonce, deact_batch, deact_time) == (4, batch + 7, int(block["timestamp"], 16))
    assert claim_time == deact_time + chain.deployments["contracts"]["Staking"]["exitDelay"]


# ---------------------------------------------------------------------------------------------
# Artifacts and scripts


def test_committed_artifacts_match_sources():
    for name in build_contracts.CONTRACTS:
        committed = build_contracts.load_artifact(name)
        assert committed["sourceSha256"] == build_contracts.source_sha256(name), f"{name}.vy changed: run build_contracts.sh"
        assert build_contracts.render(build_contracts.compile_contract(name)) == \
            open(build_contracts.artifact_path(name)).read(), f"{name}: artifact differs from a fresh compilation"


def test_start_and_stop_scripts(tmp_path):
    state = tmp_path / "chain"
    out = subprocess.run(["bash", os.path.join(DEVCHAIN, "start.sh"), "--dir", str(state), "--port", "0",
                          "--chain-id", "4242", "--", "--no-contracts"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "devchain: running" in out.stdout
    pid = int((state / "devchain.pid").read_text())
    port = int((state / "devchain.port").read_text())
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}", data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.load(r)["result"] == hex(4242)
        again = subprocess.run(["bash", os.path.join(DEVCHAIN, "start.sh"), "--dir", str(state), "--chain-id", "4242"],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        stop = subprocess.run(["bash", os.path.join(DEVCHAIN, "stop.sh"), "--dir", str(state)],
                              capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0 and f"stopped pid={pid}" in stop.stdout, stop.stdout + stop.stderr
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not (state / "devchain.pid").exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=2)
    assert "not running" in subprocess.run(["bash", os.path.join(DEVCHAIN, "stop.sh"), "--dir", str(state)],
                                           capture_output=True, text=True, timeout=60).stdout
