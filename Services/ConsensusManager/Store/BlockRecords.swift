import Tendermint
import Wire

// Block store layout in the consensus store (written only by `ConsensusStore.commit`, all in one
// synced batch with the WAL's end-of-height marker):
//
//   "block/"  ‖ u64 height (big-endian) → u8 version (1) ‖ Value (the block's bytes, length-prefixed)
//   "commit/" ‖ u64 height (big-endian) → u8 version (1) ‖ CommitCertificate
//   "state/chain"                       → u8 version (1) ‖ u64 latest height ‖ bytes state
//
// `state/chain` is written last in every commit, so its height is `latestHeight`. On load a
// block's id is recomputed from its bytes and must be the certificate's value id.

/// A committed block: the decided value and the precommits that decided it.
public struct StoredBlock: Hashable, Sendable {
    public let height: Height
    public let value: Value
    public let certificate: CommitCertificate

    public init(height: Height, value: Value, certificate: CommitCertificate) {
        self.height = height
        self.value = value
        self.certificate = certificate
    }
}

/// The state saved with the latest block (opaque to the store: the application's and the next
/// validator set's, as the shell encodes them).
public struct ChainState: Hashable, Sendable {
    public let height: Height
    public let bytes: [UInt8]

    public init(height: Height, bytes: [UInt8]) {
        self.height = height
        self.bytes = bytes
    }
}

enum BlockRecords {
    static let version: UInt8 = 1
    static let blockPrefix = Array("block/".utf8)
    static let commitPrefix = Array("commit/".utf8)
    static let stateKey = Array("state/chain".utf8)
    /// Largest state the decoder accepts.
    static let maxStateBytes = 64 << 20

    static func blockKey(_ h: Height) -> [UInt8] { keyed(blockPrefix, h) }
    static func commitKey(_ h: Height) -> [UInt8] { keyed(commitPrefix, h) }

    private static func keyed(_ prefix: [UInt8], _ h: Height) -> [UInt8] {
        var w = WireWriter(reservingCapacity: prefix.count + 8)
        w.writeFixedBytes(prefix)
        w.writeUInt64(h.value)
        return w.take()
    }

    static func encode<M: WireMessage>(_ message: M) -> [UInt8] {
        var w = WireWriter(reservingCapacity: 64)
        w.writeUInt8(version)
        w.writeMessage(message)
        return w.take()
    }

    static func decode<M: WireMessage>(_ bytes: [UInt8], as _: M.Type) throws(WireError) -> M {
        var r = WireReader(bytes)
        let v = try r.readUInt8()
        guard v == version else { throw .invalidValue("unknown record version \(v)") }
        let message = try r.readMessage(M.self)
        try r.finish()
        return message
    }

    static func encodeState(_ state: ChainState) -> [UInt8] {
        var w = WireWriter(reservingCapacity: 16 + state.bytes.count)
        w.writeUInt8(version)
        w.writeMessage(state.height)
        w.writeBytes(state.bytes)
        return w.take()
    }

    static func decodeState(_ bytes: [UInt8]) throws(WireError) -> ChainState {
        var r = WireReader(bytes)
        let v = try r.readUInt8()
        guard v == version else { throw .invalidValue("unknown state version \(v)") }
        let height = try r.readMessage(Height.self)
        let state = try r.readBytes(maxLength: maxStateBytes)
        try r.finish()
        return ChainState(height: height, bytes: state)
    }
}
