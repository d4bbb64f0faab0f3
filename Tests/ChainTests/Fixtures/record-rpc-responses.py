#!/usr/bin/env python3
"""Records rpc-responses.json: real JSON-RPC response bodies from the project's dev chain
(Deploy/devchain: py-evm + eth-tester), for the EthereumRPC decoding tests.

    DEVCHAIN_VENV=/tmp/devchain-venv Deploy/devchain/start.sh --dir /tmp/rec --port 0
    /tmp/devchain-venv/bin/python Tests/ChainTests/Fixtures/record-rpc-responses.py /tmp/rec/deployments.json \
        > Tests/ChainTests/Fixtures/rpc-responses.json
    Deploy/devchain/stop.sh --dir /tmp/rec

Each entry keeps the request sent and the response body exactly as received. The chain must be
fresh (the recorded values depend on the deployment and on these transactions only).
"""
import json
import sys
import urllib.request

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

deployments = json.load(open(sys.argv[1]))
url = deployments["rpcUrl"]
inbox = deployments["contracts"]["Inbox"]["address"]
key = deployments["accounts"][3]["privateKey"]
sender = Account.from_key(key).address
next_id = [1]


def post(payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def rpc(method, params):
    request = {"jsonrpc": "2.0", "id": next_id[0], "method": method, "params": params}
    next_id[0] += 1
    body = post(request)
    return request, body


records = {}


def record(name, method, params):
    request, body = rpc(method, params)
    records[name] = {"request": request, "response": body}
    return json.loads(body)


chain_id = int(record("chainId", "eth_chainId", [])["result"], 16)
nonce = int(record("transactionCount", "eth_getTransactionCount", [sender, "pending"])["result"], 16)
selector = keccak(b"request(string,bytes,string[],uint256,uint256)")[:4]
calldata = selector + encode(
    ["string", "bytes", "string[]", "uint256", "uint256"],
    ["oci://registry.local/app:1", b"\x01\x02\x03", ["https://a.example/x", "ipfs://b"], 59144, 2])
call = {"from": sender, "to": inbox, "data": "0x" + calldata.hex(), "value": hex(12345)}
record("estimateGas", "eth_estimateGas", [call])
record("call", "eth_call", [call, "latest"])
record("callRevert", "eth_call", [{"from": sender, "to": inbox, "data": "0x" + (selector + encode(
    ["string", "bytes", "string[]", "uint256", "uint256"], ["", b"", [], 1, 1])).hex()}, "latest"])
tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 10**11,
      "gas": 500000, "to": to_checksum_address(inbox), "value": 12345, "data": calldata}
signed = Account.sign_transaction(tx, key)
raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
records["sendRawTransaction.raw"] = {"request": None, "response": raw}
tx_hash = record("sendRawTransaction", "eth_sendRawTransaction", [raw])["result"]
record("sendRawTransactionNonceTooLow", "eth_sendRawTransaction", [raw])
receipt = record("receipt", "eth_getTransactionReceipt", [tx_hash])["result"]
record("receiptUnknown", "eth_getTransactionReceipt", ["0x" + "00" * 32])
record("transactionByHash", "eth_getTransactionByHash", [tx_hash])
block_number = record("blockNumber", "eth_blockNumber", [])["result"]
record("block", "eth_getBlockByNumber", [block_number, False])
record("blockFuture", "eth_getBlockByNumber", [hex(int(block_number, 16) + 1000), False])
topic0 = "0x" + keccak(b"RequestCreated(uint256,address,uint256,string,bytes,string[],uint256,uint256,uint256)").hex()
record("logs", "eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": inbox, "topics": [topic0]}])
record("feeHistory", "eth_feeHistory", ["0x2", "latest", [10, 50]])
record("methodNotFound", "eth_noSuchMethod", [])
batch = [{"jsonrpc": "2.0", "id": 100, "method": "eth_blockNumber", "params": []},
         {"jsonrpc": "2.0", "id": 101, "method": "eth_noSuchMethod", "params": []},
         {"jsonrpc": "2.0", "id": 102, "method": "eth_chainId", "params": []}]
records["batch"] = {"request": batch, "response": post(batch)}

json.dump({"source": "Deploy/devchain (py-evm + eth-tester), recorded by record-rpc-responses.py",
           "chainId": chain_id, "inbox": inbox, "sender": sender.lower(), "records": records},
          sys.stdout, indent=1, sort_keys=True)
print()
