import Wire

/// An RLP item (Ethereum yellow paper, appendix B): a byte string or a list of items.
public enum RLPItem: Hashable, Sendable {
    case bytes([UInt8])
    case list([RLPItem])

    /// A non-negative integer: big-endian without leading zeros (zero is the empty string).
    @_disfavoredOverload
    public static func uint(_ value: UInt64) -> RLPItem { .uint(UInt256(value)) }
    public static func uint(_ value: UInt256) -> RLPItem { .bytes(value.minimalBytes) }
}

public enum RLPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No input at all.
    case empty
    /// An item's length runs past the end of its input (or of its enclosing list).
    case truncated(offset: Int)
    /// Bytes left after the top-level item.
    case trailingBytes(count: Int)
    /// A one-byte string below 0x80 wrapped in a 0x81 prefix (it encodes as itself).
    case nonCanonicalSingleByte(offset: Int)
    /// A long-form length that fits the short form (< 56).
    case nonCanonicalLength(offset: Int)
    /// A long-form length with a leading zero byte.
    case leadingZeroInLength(offset: Int)
    /// Nesting deeper than the limit.
    case tooDeep(limit: Int)
    /// Input larger than the limit.
    case inputTooLarge(limit: Int)
    // Typed reads (`RLPItem.asUInt64()` …):
    case expectedBytes
    case expectedList
    /// An integer with a leading zero byte (the canonical form is minimal big-endian).
    case integerLeadingZero
    /// An integer wider than the target type.
    case integerTooLarge(maxBytes: Int)
    /// A list with the wrong number of elements.
    case wrongListLength(expected: Int, got: Int)
    /// A byte string of the wrong size (e.g. an address that is not 20 bytes).
    case wrongByteLength(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .empty: "RLP: empty input"
        case .truncated(let o): "RLP: item at offset \(o) runs past the end of its input"
        case .trailingBytes(let n): "RLP: \(n) trailing bytes after the item"
        case .nonCanonicalSingleByte(let o): "RLP: single byte below 0x80 wrapped in a prefix at offset \(o)"
        case .nonCanonicalLength(let o): "RLP: long-form length below 56 at offset \(o)"
        case .leadingZeroInLength(let o): "RLP: length with a leading zero at offset \(o)"
        case .tooDeep(let l): "RLP: nesting deeper than \(l)"
        case .inputTooLarge(let l): "RLP: input larger than \(l) bytes"
        case .expectedBytes: "RLP: expected a byte string, found a list"
        case .expectedList: "RLP: expected a list, found a byte string"
        case .integerLeadingZero: "RLP: integer with a leading zero byte"
        case .integerTooLarge(let n): "RLP: integer wider than \(n) bytes"
        case .wrongListLength(let e, let g): "RLP: list of \(g) elements, expected \(e)"
        case .wrongByteLength(let e, let g): "RLP: byte string of \(g) bytes, expected \(e)"
        }
    }
}

/// Limits applied while decoding untrusted input.
public struct RLPLimits: Sendable {
    /// Deepest list nesting accepted (the top-level item is depth 0).
    public var maxDepth: Int
    /// Largest input accepted.
    public var maxInputBytes: Int

    public init(maxDepth: Int = 64, maxInputBytes: Int = 16 << 20) {
        self.maxDepth = maxDepth
        self.maxInputBytes = maxInputBytes
    }

    public static let `default` = RLPLimits()
}

public enum RLP {
    // MARK: Encoding (yellow paper B, R_b and R_l)

    public static func encode(_ item: RLPItem) -> [UInt8] {
        var out = [UInt8]()
        append(item, to: &out)
        return out
    }

    public static func append(_ item: RLPItem, to out: inout [UInt8]) {
        switch item {
        case .bytes(let b):
            if b.count == 1, b[0] < 0x80 {
                out.append(b[0])
            } else {
                appendHeader(length: b.count, shortBase: 0x80, to: &out)
                out.append(contentsOf: b)
            }
        case .list(let items):
            var payload = [UInt8]()
            for child in items { append(child, to: &payload) }
            appendHeader(length: payload.count, shortBase: 0xc0, to: &out)
            out.append(contentsOf: payload)
        }
    }

    private static func appendHeader(length: Int, shortBase: UInt8, to out: inout [UInt8]) {
        if length < 56 {
            out.append(shortBase + UInt8(length))
        } else {
            let lengthBytes = UInt256(UInt64(length)).minimalBytes
            out.append(shortBase + 55 + UInt8(lengthBytes.count))
            out.append(contentsOf: lengthBytes)
        }
    }

    // MARK: Decoding (canonical forms only)

    /// Decodes exactly one item spanning all of `data`.
    public static func decode(_ data: [UInt8], limits: RLPLimits = .default) throws(RLPError) -> RLPItem {
        guard !data.isEmpty else { throw .empty }
        guard data.count <= limits.maxInputBytes else { throw .inputTooLarge(limit: limits.maxInputBytes) }
        var position = 0
        let item = try decodeItem(data, &position, end: data.count, depth: 0, limits: limits)
        guard position == data.count else { throw .trailingBytes(count: data.count - position) }
        return item
    }

    /// Reads the header at `position`: (is list, payload start, payload length). Checks every
    /// canonical-form rule and that the payload fits before `end`.
    private static func header(
        _ data: [UInt8], at position: Int, end: Int
    ) throws(RLPError) -> (isList: Bool, start: Int, length: Int) {
        let prefix = data[position]
        switch prefix {
        case 0x00...0x7f:
            return (false, position, 1)
        case 0x80...0xb7, 0xc0...0xf7:
            let isList = prefix >= 0xc0
            let length = Int(prefix - (isList ? 0xc0 : 0x80))
            let start = position + 1
            guard length <= end - start else { throw .truncated(offset: position) }
            if !isList, length == 1, data[start] < 0x80 { throw .nonCanonicalSingleByte(offset: position) }
            return (isList, start, length)
        default:  // 0xb8...0xbf, 0xf8...0xff: long form
            let isList = prefix >= 0xf8
            let lengthOfLength = Int(prefix - (isList ? 0xf7 : 0xb7))  // 1...8
            let lengthStart = position + 1
            guard lengthOfLength <= end - lengthStart else { throw .truncated(offset: position) }
            guard data[lengthStart] != 0 else { throw .leadingZeroInLength(offset: position) }
            var length: UInt64 = 0
            for b in data[lengthStart..<lengthStart + lengthOfLength] { length = length << 8 | UInt64(b) }
            let start = lengthStart + lengthOfLength
            guard length <= UInt64(end - start) else { throw .truncated(offset: position) }
            guard length >= 56 else { throw .nonCanonicalLength(offset: position) }
            return (isList, start, Int(length))
        }
    }

    private static func decodeItem(
        _ data: [UInt8], _ position: inout Int, end: Int, depth: Int, limits: RLPLimits
    ) throws(RLPError) -> RLPItem {
        guard position < end else { throw .truncated(offset: position) }
        let (isList, start, length) = try header(data, at: position, end: end)
        let payloadEnd = start + length
        guard isList else {
            position = payloadEnd
            return .bytes(Array(data[start..<payloadEnd]))
        }
        guard depth < limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
        var items: [RLPItem] = []
        var cursor = start
        while cursor < payloadEnd {
            items.append(try decodeItem(data, &cursor, end: payloadEnd, depth: depth + 1, limits: limits))
        }
        position = payloadEnd
        return .list(items)
    }
}

// MARK: Typed reads

extension RLPItem {
    public func asBytes() throws(RLPError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw .expectedBytes }
        return b
    }

    public func asList() throws(RLPError) -> [RLPItem] {
        guard case .list(let l) = self else { throw .expectedList }
        return l
    }

    /// A list of exactly `count` elements.
    public func asList(count: Int) throws(RLPError) -> [RLPItem] {
        let l = try asList()
        guard l.count == count else { throw .wrongListLength(expected: count, got: l.count) }
        return l
    }

    /// A canonical integer (no leading zero byte) of at most 8 bytes.
    public func asUInt64() throws(RLPError) -> UInt64 {
        let b = try canonicalInteger(maxBytes: 8)
        return b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A canonical integer (no leading zero byte) of at most 32 bytes.
    public func asUInt256() throws(RLPError) -> UInt256 {
        UInt256(bigEndian: try canonicalInteger(maxBytes: 32))!
    }

    /// Exactly `count` bytes.
    public func asBytes(count: Int) throws(RLPError) -> [UInt8] {
        let b = try asBytes()
        guard b.count == count else { throw .wrongByteLength(expected: count, got: b.count) }
        return b
    }

    private func canonicalInteger(maxBytes: Int) throws(RLPError) -> [UInt8] {
        let b = try asBytes()
        if b.first == 0 { throw .integerLeadingZero }
        guard b.count <= maxBytes else { throw .integerTooLarge(maxBytes: maxBytes) }
        return b
    }
}
