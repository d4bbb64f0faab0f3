# pragma version 0.4.3
"""
@title Inbox
@notice Request inbox of the validator network on a client chain (whitepaper 3.5.1.2).
        Clients create requests here; the network's threshold signer posts signed blocks of
        results back with `fulfill`; the signer changes only with the current signer's
        power-transfer signature (whitepaper 3.5.3.4) or, in an emergency, by the owner.

        Request ids: `id = (chain.id << 128) | n` with n = 1, 2, 3, ... per inbox. Ids rise
        monotonically and name the chain they belong to, so one signed block of results can
        carry requests of many chains: `fulfill` on this chain skips the ids of other chains.
        Exactly one Inbox per chain is assumed.

        Block of results (DESIGN 5), signed as a raw 32-byte digest (no EIP-191 prefix):
            message = abi.encode(uint256 version, uint256 epoch, uint256[] requestIds, bytes[] values)
            digest  = keccak256(message)
        version must be 1; requestIds and values have the same length (at most 64); a value is at
        most 256 bytes.

        Power transfer (whitepaper 3.5.3.4: [version, current epoch, dynasty parameters, new
        attested keygen address]; here the inbox's own rotation nonce stands for the dynasty and
        binds the chain and this contract, so a signature is good once, on one inbox):
            digest = keccak256(abi.encode(
                bytes32 keccak256("vn-power-transfer"),
                uint256 1,             # version
                uint256 chain.id,
                address self,          # this inbox
                uint256 signerNonce,   # rotations so far; +1 on each rotation
                address newSigner))

        Signatures are 65 bytes r || s || v, v in {27, 28} or {0, 1}; s must be in the lower half
        of the curve order (no malleable high-s signatures); r and s non-zero.
"""

MAX_URL_LEN: constant(uint256) = 512
MAX_PARAMS_LEN: constant(uint256) = 4096
MAX_SOURCE_URLS: constant(uint256) = 16
MAX_CONFIRMATIONS: constant(uint256) = 10000
MAX_REQUESTS_PER_MESSAGE: constant(uint256) = 64
MAX_VALUE_LEN: constant(uint256) = 256
# Largest ABI encoding of (uint256, uint256, uint256[64], bytes[64] of 256 bytes each).
MAX_MESSAGE_LEN: constant(uint256) = 128 + 2 * 32 * (MAX_REQUESTS_PER_MESSAGE + 1) + MAX_REQUESTS_PER_MESSAGE * (32 + MAX_VALUE_LEN)

MESSAGE_VERSION: constant(uint256) = 1
POWER_TRANSFER_VERSION: constant(uint256) = 1
POWER_TRANSFER_TAG: constant(bytes32) = keccak256("vn-power-transfer")
COUNTER_MASK: constant(uint256) = 2**128 - 1
# secp256k1 group order n divided by 2 (rounded down; = 0x7FFFFFFF...5D576E7357A4501DDFE92F46681B20A0):
# an s above it is the malleable twin of a lower-s signature.
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168


event RequestCreated:
    id: indexed(uint256)
    sender: indexed(address)
    requestingChainId: uint256
    containerURL: String[MAX_URL_LEN]
    params: Bytes[MAX_PARAMS_LEN]
    sourceURLs: DynArray[String[MAX_URL_LEN], MAX_SOURCE_URLS]
    targetChainId: uint256
    fee: uint256
    confirmations: uint256

event RequestFulfilled:
    id: indexed(uint256)

event SignerRotated:
    oldSigner: indexed(address)
    newSigner: indexed(address)
    nonce: uint256

event OwnershipTransferred:
    previousOwner: indexed(address)
    newOwner: indexed(address)


owner: public(address)
signer: public(address)
signerNonce: public(uint256)
minFee: public(uint256)
nextCounter: public(uint256)
fulfilled: public(HashMap[uint256, bool])
results: public(HashMap[uint256, Bytes[MAX_VALUE_LEN]])


@deploy
def __init__(initialSigner: address, minFee: uint256):
    assert initialSigner != empty(address), "zero signer"
    assert chain.id <= COUNTER_MASK, "chain id too large"
    self.owner = msg.sender
    self.signer = initialSigner
    self.minFee = minFee
    self.nextCounter = 1
    log OwnershipTransferred(previousOwner=empty(address), newOwner=msg.sender)
    log SignerRotated(oldSigner=empty(address), newSigner=initialSigner, nonce=0)


@external
@payable
def request(
    containerURL: String[MAX_URL_LEN],
    params: Bytes[MAX_PARAMS_LEN],
    sourceURLs: DynArray[String[MAX_URL_LEN], MAX_SOURCE_URLS],
    targetChainId: uint256,
    confirmations: uint256,
) -> uint256:
    """
    @notice Create a request; msg.value is its fee (at least minFee).
    @return The new request id.
    """
    assert len(containerURL) > 0, "empty container URL"
    assert targetChainId != 0, "zero target chain"
    assert confirmations <= MAX_CONFIRMATIONS, "too many confirmations"
    assert msg.value >= self.minFee, "fee too low"
    counter: uint256 = self.nextCounter
    self.nextCounter = counter + 1
    rid: uint256 = (chain.id << 128) | counter
    log RequestCreated(
        id=rid,
        sender=msg.sender,
        requestingChainId=chain.id,
        containerURL=containerURL,
        params=params,
        sourceURLs=sourceURLs,
        targetChainId=targetChainId,
        fee=msg.value,
        confirmations=confirmations,
    )
    return rid


@external
def fulfill(message: Bytes[MAX_MESSAGE_LEN], signature: Bytes[65]):
    """
    @notice Store the results of a signed block. Anyone may relay it. Reverts on a bad
            signature, a version other than 1, mismatched lengths, an unknown or already
            fulfilled id of this chain, or when no id of this chain is in the message.
    """
    assert self._recover(keccak256(message), signature) == self.signer, "bad signature"

    version: uint256 = 0
    epoch: uint256 = 0
    ids: DynArray[uint256, MAX_REQUESTS_PER_MESSAGE] = []
    values: DynArray[Bytes[MAX_VALUE_LEN], MAX_REQUESTS_PER_MESSAGE] = []
    version, epoch, ids, values = abi_decode(
        message,
        (
            uint256,
            uint256,
            DynArray[uint256, MAX_REQUESTS_PER_MESSAGE],
            DynArray[Bytes[MAX_VALUE_LEN], MAX_REQUESTS_PER_MESSAGE],
        ),
    )
    assert version == MESSAGE_VERSION, "unsupported version"
    assert len(ids) == len(values), "length mismatch"

    ours: uint256 = 0
    for i: uint256 in range(len(ids), bound=MAX_REQUESTS_PER_MESSAGE):
        rid: uint256 = ids[i]
        if rid >> 128 != chain.id:
            continue
        counter: uint256 = rid & COUNTER_MASK
        assert counter != 0 and counter < self.nextCounter, "unknown request"
        assert not self.fulfilled[rid], "already fulfilled"
        self.fulfilled[rid] = True
        self.results[rid] = values[i]
        log RequestFulfilled(id=rid)
        ours += 1
    assert ours != 0, "no request of this chain"


@external
def rotateSigner(newSigner: address, signature: Bytes[65]):
    """
    @notice Power transfer: accept newSigner when the current signer signed powerTransferDigest.
    """
    assert newSigner != empty(address), "zero signer"
    digest: bytes32 = self._powerTransferDigest(newSigner, self.signerNonce)
    assert self._recover(digest, signature) == self.signer, "bad signature"
    self._setSigner(newSigner)


@external
def emergencySetSigner(newSigner: address):
    """
    @notice The administrator's power transfer (whitepaper 3.5.3.4: first dynasty or emergency).
    """
    assert msg.sender == self.owner, "not owner"
    assert newSigner != empty(address), "zero signer"
    self._setSigner(newSigner)


@external
def setMinFee(fee: uint256):
    assert msg.sender == self.owner, "not owner"
    self.minFee = fee


@external
def withdrawFees(to: address):
    assert msg.sender == self.owner, "not owner"
    assert to != empty(address), "zero address"
    send(to, self.balance)


@external
def transferOwnership(newOwner: address):
    assert msg.sender == self.owner, "not owner"
    assert newOwner != empty(address), "zero owner"
    log OwnershipTransferred(previousOwner=self.owner, newOwner=newOwner)
    self.owner = newOwner


@view
@external
def powerTransferDigest(newSigner: address) -> bytes32:
    """
    @notice The digest the current signer signs to hand power to newSigner now.
    """
    return self._powerTransferDigest(newSigner, self.signerNonce)


@view
@external
def requestCount() -> uint256:
    return self.nextCounter - 1


@view
@internal
def _powerTransferDigest(newSigner: address, nonce: uint256) -> bytes32:
    return keccak256(
        abi_encode(
            POWER_TRANSFER_TAG,
            POWER_TRANSFER_VERSION,
            chain.id,
            self,
            nonce,
            newSigner,
        )
    )


@internal
def _setSigner(newSigner: address):
    old: address = self.signer
    nonce: uint256 = self.signerNonce + 1
    self.signer = newSigner
    self.signerNonce = nonce
    log SignerRotated(oldSigner=old, newSigner=newSigner, nonce=nonce)


@pure
@internal
def _recover(digest: bytes32, signature: Bytes[65]) -> address:
    assert len(signature) == 65, "bad signature length"
    r: uint256 = extract32(signature, 0, output_type=uint256)
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    if v < 27:
        v += 27
    assert v == 27 or v == 28, "bad signature v"
    assert r != 0 and s != 0, "bad signature r/s"
    assert s <= SECP256K1_HALF_N, "high-s signature"
    recovered: address = ecrecover(digest, v, r, s)
    assert recovered != empty(address), "invalid signature"
    return recovered
