"""Tests of make_requests.py: a real dev chain on a free loopback port, the script run as a
subprocess exactly as callers run it, its output checked against the chain's own receipts and logs.
"""

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
from eth_abi import decode
from eth_utils import keccak

HERE = os.path.dirname(os.path.abspath(__file__))
DEVCHAIN = os.path.dirname(HERE)
SCRIPT = os.path.join(DEVCHAIN, "make_requests.py")
CHAIN_ID = 7001
MIN_FEE = 12345
REQUEST_CREATED = "0x" + keccak(
    text="RequestCreated(uint256,address,uint256,string,bytes,string[],uint256,uint256,uint256)").hex()
LINE_KEYS = {"id", "txHash", "block", "params"}


class Chain:
    def __init__(self, url):
        self.url = url
        self._id = 0

    def rpc(self, method, *params):
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            resp = json.load(r)
        assert "error" not in resp, resp
        return resp["result"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("make_requests")
    log = open(tmp / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(DEVCHAIN, "server.py"), "--port", "0", "--chain-id", str(CHAIN_ID),
         "--inbox-min-fee", str(MIN_FEE), "--quiet"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 90)
        assert ready, "no READY line within 90 s"
        line = proc.stdout.readline()
        assert line.startswith("READY port="), (line, open(tmp / "server.log").read())
        port = re.search(r"port=(\d+)", line).group(1)
        yield Chain(f"http://127.0.0.1:{port}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def run(chain, *args, check=True, timeout=120):
    r = subprocess.run([sys.executable, SCRIPT, "--url", chain.url, *args], capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def lines(stdout):
    out = [json.loads(line) for line in stdout.splitlines()]
    for o in out:
        assert set(o) == LINE_KEYS, o
    return out


def check_against_chain(chain, out, confirmations, sender_index=2):
    """Every line names a mined Inbox.request whose RequestCreated log carries these fields."""
    deployments = chain.rpc("dev_deployments")
    inbox = deployments["contracts"]["Inbox"]["address"]
    sender = deployments["accounts"][sender_index]["address"].lower()
    for o in out:
        receipt = chain.rpc("eth_getTransactionReceipt", o["txHash"])
        assert receipt["status"] == "0x1" and int(receipt["blockNumber"], 16) == o["block"]
        assert receipt["from"] == sender
        tx = chain.rpc("eth_getTransactionByHash", o["txHash"])
        assert int(tx["value"], 16) == MIN_FEE, "fee = the Inbox's minFee"
        (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == REQUEST_CREATED]
        assert log["address"] == inbox
        assert int(log["topics"][1], 16) == int(o["id"], 16)
        assert log["topics"][2] == "0x" + "00" * 12 + sender[2:]
        requesting, url, params, sources, target, fee, confs = decode(
            ["uint256", "string", "bytes", "string[]", "uint256", "uint256", "uint256"],
            bytes.fromhex(log["data"][2:]))
        assert requesting == CHAIN_ID and target == CHAIN_ID and fee == MIN_FEE and confs == confirmations
        assert url and sources
        assert "0x" + params.hex() == o["params"]


def test_sends_requests_and_prints_one_line_each(chain):
    before = int(chain.rpc("eth_blockNumber"), 16)
    r = run(chain, "--count", "7", "--confirmations", "3", "--tag", "alpha", "--deployments-from-rpc")
    out = lines(r.stdout)
    assert len(out) == 7
    ids = [int(o["id"], 16) for o in out]
    assert all(i >> 128 == CHAIN_ID for i in ids), "request ids name their chain"
    assert [i & ((1 << 128) - 1) for i in ids] == list(range(ids[0] & ((1 << 128) - 1),
                                                              (ids[0] & ((1 << 128) - 1)) + 7))
    blocks = [o["block"] for o in out]
    assert blocks == sorted(blocks) and len(set(blocks)) == 7 and blocks[0] > before, "automine: one block each"
    assert all(b"tag=alpha" in bytes.fromhex(o["params"][2:]) for o in out)
    assert len({o["params"] for o in out}) == 7
    check_against_chain(chain, out, confirmations=3)


def test_two_runs_with_the_same_tag_send_different_bodies(chain):
    a = lines(run(chain, "--count", "3", "--tag", "same").stdout)
    b = lines(run(chain, "--count", "3", "--tag", "same").stdout)
    assert not {o["params"] for o in a} & {o["params"] for o in b}
    assert int(b[0]["id"], 16) == int(a[-1]["id"], 16) + 1
    untagged = lines(run(chain, "--count", "2").stdout)
    check_against_chain(chain, a + b + untagged, confirmations=0)


def test_automine_off_waits_until_mined(chain):
    deployments = chain.rpc("dev_deployments")
    sender = deployments["accounts"][4]["address"]
    nonce = int(chain.rpc("eth_getTransactionCount", sender, "latest"), 16)
    chain.rpc("evm_setAutomine", False)
    proc = None
    try:
        proc = subprocess.Popen([sys.executable, SCRIPT, "--url", chain.url, "--count", "20", "--account", "4",
                                 "--batch", "8", "--tag", "off"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        # All 20 queued in the pending block (pipelined nonces), none mined yet.
        deadline = time.monotonic() + 60
        while int(chain.rpc("eth_getTransactionCount", sender, "pending"), 16) < nonce + 20:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "transactions not queued"
            time.sleep(0.05)
        assert proc.poll() is None, "it waits for the receipts"
        head = int(chain.rpc("evm_mine"), 16)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        chain.rpc("evm_setAutomine", True)
    out = lines(stdout)
    assert len(out) == 20 and {o["block"] for o in out} == {head}
    check_against_chain(chain, out, confirmations=0, sender_index=4)


def test_refuses_bad_arguments(chain):
    assert run(chain, "--count", "0", check=False).returncode == 2
    assert run(chain, "--count", "1", "--confirmations", "10001", check=False).returncode == 2
    r = run(chain, "--count", "1", "--account", "99", check=False)
    assert r.returncode == 1 and "dev accounts" in r.stderr and r.stdout == ""
    last = len(chain.rpc("dev_deployments")["accounts"]) - 1
    r = run(chain, "--count", "1", "--account", str(last), check=False)
    assert r.returncode == 1 and "faucet" in r.stderr
    r = subprocess.run([sys.executable, SCRIPT, "--url", "http://127.0.0.1:1", "--count", "1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == "" and "127.0.0.1:1" in r.stderr
