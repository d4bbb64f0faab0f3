import EVM
import Wire

// Canonical wire encodings (DESIGN §3, `WireWriter`): 256-bit integers and hashes as 32 raw
// big-endian bytes, addresses as 20 raw bytes, fields in declaration order.

extension WireWriter {
    mutating func writeUInt256(_ value: UInt256) { writeFixedBytes(value.bigEndianBytes) }
    mutating func writeHash(_ hash: Hash32) { writeFixedBytes(hash.bytes) }
}

extension WireReader {
    mutating func readUInt256() throws(WireError) -> UInt256 {
        UInt256(bigEndian: try readFixedBytes(count: 32))!
    }

    mutating func readHash() throws(WireError) -> Hash32 {
        do { return try Hash32(bytes: try readFixedBytes(count: 32)) } catch { throw .invalidValue("hash") }
    }
}

extension RequestOrigin: WireMessage {
    public func encode(to writer: inout WireWriter) {
        writer.writeUInt64(chainID)
        writer.writeUInt64(blockNumber)
        writer.writeHash(blockHash)
        writer.writeHash(transactionHash)
        writer.writeUInt64(logIndex)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readUInt64()
        blockNumber = try reader.readUInt64()
        blockHash = try reader.readHash()
        transactionHash = try reader.readHash()
        logIndex = try reader.readUInt64()
    }
}

/// What the consensus-manager receives: `id ‖ sender ‖ requestingChainID ‖ containerURL ‖
/// params ‖ sourceURLs ‖ targetChainID ‖ fee ‖ confirmations ‖ origin`. The decoder refuses
/// everything `InboxLogDecoder` would have refused (within `RequestLimits.wireMaximum`).
extension InboxRequest: WireMessage {
    public func encode(to writer: inout WireWriter) {
        writer.writeUInt256(id)
        writer.writeAddress(sender)
        writer.writeUInt64(requestingChainID)
        writer.writeString(containerURL)
        writer.writeBytes(containerParams)
        writer.writeArray(sourceURLs) { $0.writeString($1) }
        writer.writeUInt256(targetChainID)
        writer.writeUInt256(fee)
        writer.writeUInt64(confirmations)
        writer.writeMessage(origin)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        let limits = RequestLimits.wireMaximum
        id = try reader.readUInt256()
        sender = try reader.readAddress()
        requestingChainID = try reader.readUInt64()
        containerURL = try reader.readString(maxLength: limits.maxContainerURLBytes)
        containerParams = try reader.readBytes(maxLength: limits.maxParamsBytes)
        sourceURLs = try reader.readArray(maxCount: limits.maxSourceURLs, minimumElementSize: 4) {
            (r: inout WireReader) throws(WireError) in try r.readString(maxLength: limits.maxSourceURLBytes)
        }
        targetChainID = try reader.readUInt256()
        fee = try reader.readUInt256()
        confirmations = try reader.readUInt64()
        origin = try reader.readMessage()

        guard InboxRequest.chainID(ofRequestID: id) == UInt256(origin.chainID) else {
            throw .invalidValue("request id of another chain than its origin")
        }
        guard !InboxRequest.counter(ofRequestID: id).isZero else { throw .invalidValue("request id counter 0") }
        guard requestingChainID == origin.chainID else { throw .invalidValue("requesting chain is not the origin") }
        guard !containerURL.utf8.isEmpty else { throw .invalidValue("empty container URL") }
        guard !targetChainID.isZero else { throw .invalidValue("zero target chain") }
    }
}
