# pragma version 0.4.3
"""
@title Staking
@notice A small L1 staking contract for the dev chain that emits the Metis L1 staking events
        with the same names, field types, order and indexing as Metis' LockingInfo, so a
        bridge-adapter reading them here reads the real ones too:
            Locked(address indexed signer, uint256 indexed sequencerId, uint256 nonce,
                   uint256 indexed activationBatch, uint256 amount, uint256 total, bytes signerPubkey)
            UnlockInit(address indexed user, uint256 indexed sequencerId, uint256 nonce,
                   uint256 deactivationBatch, uint256 deactivationTime, uint256 unlockClaimTime,
                   uint256 indexed amount)
            LockUpdate(uint256 indexed sequencerId, uint256 indexed nonce, uint256 indexed newAmount)
            SignerChange(uint256 indexed sequencerId, uint256 nonce, address indexed oldSigner,
                   address indexed newSigner, bytes signerPubkey)
            BatchSubmitReward(uint256 newBatchId)
            UpdateEpochLength(uint256 oldEpochLength, uint256 newEpochLength, uint256 effectiveBatch)
        No token moves: amounts are bookkeeping only. The per-sequencer nonce starts at 1 with
        Locked and rises by one with every later event of that sequencer (as Metis does, for the
        PoS layer to apply events in order). A signer public key is the 64-byte uncompressed
        secp256k1 key without the 0x04 prefix; its address must be the signer's.
"""

MAX_PUBKEY_LEN: constant(uint256) = 64

STATUS_NONE: constant(uint256) = 0
STATUS_ACTIVE: constant(uint256) = 1
STATUS_UNLOCKING: constant(uint256) = 2


struct Sequencer:
    owner: address
    signer: address
    locked: uint256
    nonce: uint256
    activationBatch: uint256
    deactivationBatch: uint256
    unlockClaimTime: uint256
    status: uint256


event Locked:
    signer: indexed(address)
    sequencerId: indexed(uint256)
    nonce: uint256
    activationBatch: indexed(uint256)
    amount: uint256
    total: uint256
    signerPubkey: Bytes[MAX_PUBKEY_LEN]

event UnlockInit:
    user: indexed(address)
    sequencerId: indexed(uint256)
    nonce: uint256
    deactivationBatch: uint256
    deactivationTime: uint256
    unlockClaimTime: uint256
    amount: indexed(uint256)

event LockUpdate:
    sequencerId: indexed(uint256)
    nonce: indexed(uint256)
    newAmount: indexed(uint256)

event SignerChange:
    sequencerId: indexed(uint256)
    nonce: uint256
    oldSigner: indexed(address)
    newSigner: indexed(address)
    signerPubkey: Bytes[MAX_PUBKEY_LEN]

event BatchSubmitReward:
    newBatchId: uint256

event UpdateEpochLength:
    oldEpochLength: uint256
    newEpochLength: uint256
    effectiveBatch: uint256


admin: public(address)
minLock: public(uint256)
maxLock: public(uint256)
exitDelay: public(uint256)
epochLength: public(uint256)
currentBatch: public(uint256)
totalLocked: public(uint256)
nextSequencerId: public(uint256)
sequencers: public(HashMap[uint256, Sequencer])
sequencerIdOfSigner: public(HashMap[address, uint256])


@deploy
def __init__(minLock: uint256, maxLock: uint256, exitDelay: uint256, epochLength: uint256):
    assert minLock <= maxLock, "bad lock bounds"
    assert epochLength != 0, "zero epoch length"
    self.admin = msg.sender
    self.minLock = minLock
    self.maxLock = maxLock
    self.exitDelay = exitDelay
    self.epochLength = epochLength
    self.nextSequencerId = 1


@external
def lockFor(signer: address, amount: uint256, signerPubkey: Bytes[MAX_PUBKEY_LEN]) -> uint256:
    """
    @notice Become a sequencer owned by msg.sender, signing with `signer`. Emits Locked with
            total = the contract-wide total locked after this lock.
    @return The new sequencer id (1, 2, 3, ...).
    """
    assert signer != empty(address), "zero signer"
    assert self._addressOf(signerPubkey) == signer, "pubkey does not match signer"
    assert self.sequencerIdOfSigner[signer] == 0, "signer in use"
    assert amount >= self.minLock and amount <= self.maxLock, "amount out of bounds"
    seqId: uint256 = self.nextSequencerId
    self.nextSequencerId = seqId + 1
    total: uint256 = self.totalLocked + amount
    self.totalLocked = total
    self.sequencerIdOfSigner[signer] = seqId
    self.sequencers[seqId] = Sequencer(
        owner=msg.sender,
        signer=signer,
        locked=amount,
        nonce=1,
        activationBatch=self.currentBatch,
        deactivationBatch=0,
        unlockClaimTime=0,
        status=STATUS_ACTIVE,
    )
    log Locked(
        signer=signer,
        sequencerId=seqId,
        nonce=1,
        activationBatch=self.currentBatch,
        amount=amount,
        total=total,
        signerPubkey=signerPubkey,
    )
    return seqId


@external
def relock(sequencerId: uint256, amount: uint256):
    """
    @notice Add `amount` to an active sequencer's lock. Emits LockUpdate with the new lock.
    """
    seq: Sequencer = self._ownedActive(sequencerId)
    newAmount: uint256 = seq.locked + amount
    assert amount != 0 and newAmount <= self.maxLock, "amount out of bounds"
    seq.locked = newAmount
    seq.nonce += 1
    self.sequencers[sequencerId] = seq
    self.totalLocked += amount
    log LockUpdate(sequencerId=sequencerId, nonce=seq.nonce, newAmount=newAmount)


@external
def unlock(sequencerId: uint256):
    """
    @notice Start leaving: the lock can be claimed after exitDelay seconds. Emits UnlockInit.
    """
    seq: Sequencer = self._ownedActive(sequencerId)
    seq.nonce += 1
    seq.status = STATUS_UNLOCKING
    seq.deactivationBatch = self.currentBatch
    seq.unlockClaimTime = block.timestamp + self.exitDelay
    self.sequencers[sequencerId] = seq
    self.totalLocked -= seq.locked
    log UnlockInit(
        user=msg.sender,
        sequencerId=sequencerId,
        nonce=seq.nonce,
        deactivationBatch=seq.deactivationBatch,
        deactivationTime=block.timestamp,
        unlockClaimTime=seq.unlockClaimTime,
        amount=seq.locked,
    )


@external
def updateSigner(sequencerId: uint256, signerPubkey: Bytes[MAX_PUBKEY_LEN]):
    """
    @notice Change an active sequencer's signer to the address of signerPubkey. Emits SignerChange.
    """
    seq: Sequencer = self._ownedActive(sequencerId)
    newSigner: address = self._addressOf(signerPubkey)
    assert newSigner != seq.signer, "same signer"
    assert self.sequencerIdOfSigner[newSigner] == 0, "signer in use"
    oldSigner: address = seq.signer
    self.sequencerIdOfSigner[oldSigner] = 0
    self.sequencerIdOfSigner[newSigner] = sequencerId
    seq.signer = newSigner
    seq.nonce += 1
    self.sequencers[sequencerId] = seq
    log SignerChange(
        sequencerId=sequencerId,
        nonce=seq.nonce,
        oldSigner=oldSigner,
        newSigner=newSigner,
        signerPubkey=signerPubkey,
    )


@external
def batchSubmitReward(batchId: uint256):
    """
    @notice Admin: record that batches up to batchId were rewarded. Emits BatchSubmitReward.
    """
    assert msg.sender == self.admin, "not admin"
    assert batchId > self.currentBatch, "batch id not increasing"
    self.currentBatch = batchId
    log BatchSubmitReward(newBatchId=batchId)


@external
def updateEpochLength(newEpochLength: uint256):
    """
    @notice Admin: change the epoch length from the next batch on. Emits UpdateEpochLength.
    """
    assert msg.sender == self.admin, "not admin"
    assert newEpochLength != 0, "zero epoch length"
    old: uint256 = self.epochLength
    self.epochLength = newEpochLength
    log UpdateEpochLength(
        oldEpochLength=old, newEpochLength=newEpochLength, effectiveBatch=self.currentBatch + 1
    )


@external
def setLockBounds(minLock: uint256, maxLock: uint256):
    assert msg.sender == self.admin, "not admin"
    assert minLock <= maxLock, "bad lock bounds"
    self.minLock = minLock
    self.maxLock = maxLock


@view
@internal
def _ownedActive(sequencerId: uint256) -> Sequencer:
    seq: Sequencer = self.sequencers[sequencerId]
    assert seq.status == STATUS_ACTIVE, "sequencer not active"
    assert seq.owner == msg.sender, "not sequencer owner"
    return seq


@pure
@internal
def _addressOf(pubkey: Bytes[MAX_PUBKEY_LEN]) -> address:
    assert len(pubkey) == MAX_PUBKEY_LEN, "pubkey must be 64 bytes"
    return convert(convert(keccak256(pubkey), uint256) & convert(max_value(uint160), uint256), address)
