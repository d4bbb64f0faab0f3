import CryptoPrimitives
import Tendermint
import Wire

// The consensus write-ahead log lives in the consensus store (`<home>/data/consensus`, the LevelDB
// the consensus-manager already opens as `NodeHome.Store.consensus`) under the key prefix `wal/`.
// One LevelDB per node keeps the WAL, the last-signed guard and the block store in one place, so
// that a commit (block + certificate + state + the WAL's end-of-height marker + pruning) is one
// atomic, synced `WriteBatch`; a second database could not give that.
//
// Key:    "wal/" ‖ u64 height (big-endian) ‖ u32 sequence (big-endian, from 0 within a height)
//         — LevelDB's bytewise order is the log's order.
// Value:  u8 version (1) ‖ u8 kind ‖ u32 length (big-endian) ‖ payload (length bytes)
//         ‖ checksum: the first 8 bytes of SHA-256 over everything before it.
// Kinds:  1 signed  payload = `SignedMessage` (Tendermint wire encoding): a proposal or vote of
//                   this node, written before it is signed and sent (the driver's
//                   `persistSigned`, the WAL rule); a locking precommit carries its value.
//         2 end     payload = u64 height ‖ i64 round ‖ 32-byte value id: the height was decided
//                   and committed (written in the commit's batch, see `ConsensusStore.commit`).
// The payload's height must equal the key's height.
//
// Why only these kinds: `Driver.restore` rebuilds a height from the node's own signed messages
// alone (its lock, valid value, round and step, and the double-sign guard); received proposals
// and votes are learnt again from gossip, and timeouts are re-armed by the restored driver, so
// logging them would cost a synced write per received message and buy nothing the driver uses.

/// One WAL record.
public enum WALRecord: Hashable, Sendable, CustomStringConvertible {
    /// A proposal or vote of this node, durable before it is signed and sent.
    case signed(SignedMessage)
    /// `height` was decided in `round` for `valueID` and committed: replay starts after it.
    case endHeight(height: Height, round: Round, valueID: ValueID)

    public static let version: UInt8 = 1
    static let headerCount = 6
    static let checksumCount = 8

    public var height: Height {
        switch self {
        case .signed(let m): m.height
        case .endHeight(let h, _, _): h
        }
    }

    var kind: UInt8 {
        switch self {
        case .signed: 1
        case .endHeight: 2
        }
    }

    public var description: String {
        switch self {
        case .signed(let m): "signed \(m)"
        case .endHeight(let h, let r, let id): "end of height \(h) (round \(r), \(id))"
        }
    }

    /// `version ‖ kind ‖ length ‖ payload ‖ checksum`.
    public func encoded() -> [UInt8] {
        var payload = WireWriter(reservingCapacity: 128)
        switch self {
        case .signed(let m): payload.writeMessage(m)
        case .endHeight(let h, let r, let id):
            payload.writeMessage(h)
            payload.writeMessage(r)
            payload.writeMessage(id)
        }
        let body = payload.take()
        var out = WireWriter(reservingCapacity: Self.headerCount + body.count + Self.checksumCount)
        out.writeUInt8(Self.version)
        out.writeUInt8(kind)
        out.writeUInt32(UInt32(body.count))
        out.writeFixedBytes(body)
        var bytes = out.take()
        bytes += Self.checksum(bytes[...])
        return bytes
    }

    static func checksum(_ covered: ArraySlice<UInt8>) -> [UInt8] {
        Array(SHA256.hash(covered).prefix(checksumCount))
    }

    /// Decodes the value stored under a key of `height`; every defect is a `WALDamage` reason.
    static func decode(_ bytes: [UInt8], height: Height) -> Result<WALRecord, WALDefect> {
        guard bytes.count >= headerCount else { return .failure(.truncated(have: bytes.count, need: headerCount)) }
        guard bytes[0] == version else { return .failure(.undecodable("unknown record version \(bytes[0])")) }
        let length = bytes[2..<6].reduce(0) { $0 << 8 | Int($1) }
        let total = headerCount + length + checksumCount
        guard bytes.count >= total else { return .failure(.truncated(have: bytes.count, need: total)) }
        guard bytes.count == total else {
            return .failure(.undecodable("\(bytes.count - total) bytes after the checksum"))
        }
        let expected = checksum(bytes[0..<(headerCount + length)])
        guard Array(bytes[(headerCount + length)...]) == expected else { return .failure(.checksumMismatch) }
        var reader = WireReader(bytes, range: headerCount..<(headerCount + length))
        let record: WALRecord
        do throws(WireError) {
            switch bytes[1] {
            case 1:
                record = .signed(try reader.readMessage(SignedMessage.self))
            case 2:
                let h = try reader.readMessage(Height.self)
                let r = try reader.readMessage(Round.self)
                let id = try reader.readMessage(ValueID.self)
                guard !r.isNone else { throw .invalidValue("end of height without a round") }
                record = .endHeight(height: h, round: r, valueID: id)
            case let kind:
                return .failure(.undecodable("unknown record kind \(kind)"))
            }
            try reader.finish()
        } catch {
            return .failure(.undecodable("payload: \(error)"))
        }
        guard record.height == height else {
            return .failure(.undecodable("record of height \(record.height) under a key of height \(height)"))
        }
        return .success(record)
    }

    // MARK: Keys

    static let prefix = Array("wal/".utf8)
    static let keyCount = prefix.count + 12

    static func key(height: Height, sequence: UInt32) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: keyCount)
        writer.writeFixedBytes(prefix)
        writer.writeUInt64(height.value)
        writer.writeUInt32(sequence)
        return writer.take()
    }

    /// `(height, sequence)` of a WAL key, or nil if it is not one.
    static func parseKey(_ key: [UInt8]) -> (height: Height, sequence: UInt32)? {
        guard key.count == keyCount, key.starts(with: prefix) else { return nil }
        var reader = WireReader(key, range: prefix.count..<keyCount)
        guard let h = try? reader.readUInt64(), let s = try? reader.readUInt32() else { return nil }
        return (Height(h), s)
    }
}

/// What is wrong with one stored WAL record.
public enum WALDefect: Error, Hashable, Sendable, CustomStringConvertible {
    /// Shorter than its header or its length field says (a cut write).
    case truncated(have: Int, need: Int)
    /// The checksum does not match the bytes before it.
    case checksumMismatch
    /// Well-formed length and checksum, but the content cannot be read (or is for another height).
    case undecodable(String)

    public var description: String {
        switch self {
        case .truncated(let have, let need): "truncated: \(have) of \(need) bytes"
        case .checksumMismatch: "checksum mismatch"
        case .undecodable(let why): "undecodable: \(why)"
        }
    }
}

/// A damaged record at the tail of the WAL, dropped at open (the shell logs it). Only the last
/// record can be dropped this way: damage anywhere else is `ConsensusStoreError.corruption`.
public struct WALDamage: Hashable, Sendable, CustomStringConvertible {
    public let height: Height
    public let sequence: UInt32
    public let defect: WALDefect

    public var description: String {
        "WAL record (height \(height), sequence \(sequence)) at the tail dropped: \(defect)"
    }
}
