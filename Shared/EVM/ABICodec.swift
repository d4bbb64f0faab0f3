import Wire

/// A value of an ABI type. The type is given separately when encoding or decoding; `T[k]` and
/// `T[]` values are both `.array`.
public indirect enum ABIValue: Hashable, Sendable {
    case uint(UInt256)
    case int(Int256)
    case address(Address)
    case bool(Bool)
    /// `bytes<M>`: exactly M bytes.
    case fixedBytes([UInt8])
    case bytes([UInt8])
    case string(String)
    case array([ABIValue])
    case tuple([ABIValue])

    @_disfavoredOverload
    public static func uint(_ value: UInt64) -> ABIValue { .uint(UInt256(value)) }
    @_disfavoredOverload
    public static func int(_ value: Int64) -> ABIValue { .int(Int256(value)) }
}

public enum ABIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A type string or type that is not a supported ABI type.
    case invalidType(String)
    /// A declaration (`function …`, `event …`) that does not parse or breaks a rule.
    case invalidDeclaration(String)
    /// Encoding: a value that does not match its type (`path` locates it, e.g. `[1][0]`).
    case typeMismatch(path: String, type: String)
    /// Encoding: a number outside its type's range, or bytes of the wrong size.
    case outOfRange(path: String, type: String)
    /// Encoding: the number of values differs from the number of types.
    case wrongValueCount(expected: Int, got: Int)
    /// Decoding: a read past the end of the data.
    case truncated(offset: Int)
    /// Decoding: an offset or length that points outside the data.
    case offsetOutOfBounds(offset: Int)
    /// Decoding: a word that is not a canonical encoding of its type (dirty high bits, bool not
    /// 0/1, non-zero padding).
    case nonCanonical(offset: Int, type: String)
    /// Decoding: a `string` that is not UTF-8.
    case invalidUTF8(offset: Int)
    /// Decoding: more values than the data could hold without overlapping (offsets reused to
    /// amplify a small input).
    case tooManyValues
    /// Decoding: the selector or event topic does not match.
    case selectorMismatch
    /// Decoding: a log with the wrong number of topics for the event.
    case wrongTopicCount(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .invalidType(let t): "ABI: invalid type \(t)"
        case .invalidDeclaration(let d): "ABI: invalid declaration \(d)"
        case .typeMismatch(let p, let t): "ABI: value at \(p.isEmpty ? "top" : p) is not a \(t)"
        case .outOfRange(let p, let t): "ABI: value at \(p.isEmpty ? "top" : p) is out of range for \(t)"
        case .wrongValueCount(let e, let g): "ABI: \(g) values for \(e) types"
        case .truncated(let o): "ABI: data ends before offset \(o)"
        case .offsetOutOfBounds(let o): "ABI: offset or length at \(o) points outside the data"
        case .nonCanonical(let o, let t): "ABI: word at \(o) is not a canonical \(t)"
        case .invalidUTF8(let o): "ABI: string at \(o) is not UTF-8"
        case .tooManyValues: "ABI: more values than the data can hold (overlapping offsets)"
        case .selectorMismatch: "ABI: selector or event topic does not match"
        case .wrongTopicCount(let e, let g): "ABI: log has \(g) topics, expected \(e)"
        }
    }
}

public enum ABI {
    // MARK: Encoding (Solidity ABI specification, "Formal Specification of the Encoding")

    /// `enc((v1, …, vn))` for values of `types`.
    public static func encode(_ values: [ABIValue], types: [ABIType]) throws(ABIError) -> [UInt8] {
        for t in types { try t.validate() }
        guard values.count == types.count else { throw .wrongValueCount(expected: types.count, got: values.count) }
        var out = [UInt8]()
        try encodeSequence(values, types, path: "", into: &out)
        return out
    }

    /// One value.
    public static func encode(_ value: ABIValue, type: ABIType) throws(ABIError) -> [UInt8] {
        try encode([value], types: [type])
    }

    private static func word(_ value: UInt256) -> [UInt8] { value.bigEndianBytes }
    private static func word(_ value: Int) -> [UInt8] { UInt256(UInt64(value)).bigEndianBytes }

    private static func padded(_ bytes: [UInt8]) -> [UInt8] {
        let extra = (32 - bytes.count % 32) % 32
        return bytes + [UInt8](repeating: 0, count: extra)
    }

    /// Heads then tails, offsets measured from the start of this sequence.
    private static func encodeSequence(
        _ values: [ABIValue], _ types: [ABIType], path: String, into out: inout [UInt8]
    ) throws(ABIError) {
        let headLength = types.reduce(0) { $0 + $1.headSize }
        var head = [UInt8]()
        head.reserveCapacity(headLength)
        var tail = [UInt8]()
        for (index, (value, type)) in zip(values, types).enumerated() {
            if type.isDynamic {
                head += word(headLength + tail.count)
                try encodeValue(value, type, path: path + "[\(index)]", into: &tail)
            } else {
                try encodeValue(value, type, path: path + "[\(index)]", into: &head)
            }
        }
        out += head
        out += tail
    }

    private static func encodeValue(
        _ value: ABIValue, _ type: ABIType, path: String, into out: inout [UInt8]
    ) throws(ABIError) {
        switch (type, value) {
        case (.uint(let bits), .uint(let v)):
            guard v.bitWidth <= bits else { throw .outOfRange(path: path, type: type.description) }
            out += word(v)
        case (.int(let bits), .int(let v)):
            guard v.signedBitWidth <= bits else { throw .outOfRange(path: path, type: type.description) }
            out += v.bitPattern.bigEndianBytes
        case (.address, .address(let a)):
            out += [UInt8](repeating: 0, count: 12) + a.bytes
        case (.bool, .bool(let b)):
            out += word(b ? 1 : 0)
        case (.fixedBytes(let m), .fixedBytes(let b)):
            guard b.count == m else { throw .outOfRange(path: path, type: type.description) }
            out += padded(b)
        case (.bytes, .bytes(let b)):
            out += word(b.count)
            out += padded(b)
        case (.string, .string(let s)):
            let b = Array(s.utf8)
            out += word(b.count)
            out += padded(b)
        case (.array(let element, let k), .array(let items)):
            guard items.count == k else { throw .outOfRange(path: path, type: type.description) }
            try encodeSequence(items, Array(repeating: element, count: k), path: path, into: &out)
        case (.dynamicArray(let element), .array(let items)):
            out += word(items.count)
            try encodeSequence(items, Array(repeating: element, count: items.count), path: path, into: &out)
        case (.tuple(let types), .tuple(let items)):
            guard items.count == types.count else { throw .typeMismatch(path: path, type: type.description) }
            try encodeSequence(items, types, path: path, into: &out)
        default:
            throw .typeMismatch(path: path, type: type.description)
        }
    }

    // MARK: Decoding (hostile input: every offset and length is checked against the data)

    /// Decodes `enc((v1, …, vn))` as `types`. Bytes after the encoded values are ignored (as
    /// Solidity does); everything read is checked to be canonical.
    public static func decode(_ data: [UInt8], types: [ABIType]) throws(ABIError) -> [ABIValue] {
        for t in types { try t.validate() }
        var decoder = Decoder(data: data)
        return try decoder.sequence(types, base: 0)
    }

    /// Decodes one value of `type`.
    public static func decode(_ data: [UInt8], type: ABIType) throws(ABIError) -> ABIValue {
        try decode(data, types: [type])[0]
    }

    /// Decodes a single 32-byte word of a value type (an indexed event topic).
    static func decodeWord(_ word: [UInt8], type: ABIType) throws(ABIError) -> ABIValue {
        precondition(type.isWordType && word.count == 32)
        var decoder = Decoder(data: word)
        return try decoder.value(type, at: 0)
    }

    struct Decoder {
        let data: [UInt8]
        /// Work allowed: one unit per value word, length word and 32 bytes of content. A canonical
        /// encoding never needs more than one unit per word of input; overlapping offsets would.
        var budget: Int

        init(data: [UInt8]) {
            self.data = data
            budget = data.count / 32 + 1
        }

        mutating func spend(_ units: Int) throws(ABIError) {
            guard units <= budget else { throw .tooManyValues }
            budget -= units
        }

        func readWord(at offset: Int) throws(ABIError) -> ArraySlice<UInt8> {
            guard offset >= 0, offset <= data.count, data.count - offset >= 32 else { throw .truncated(offset: offset) }
            return data[offset..<offset + 32]
        }

        /// A word used as an offset or a length: must be small enough to index the data.
        func readSize(at offset: Int) throws(ABIError) -> Int {
            let w = try readWord(at: offset)
            guard w.prefix(24).allSatisfy({ $0 == 0 }) else { throw .offsetOutOfBounds(offset: offset) }
            let value = w.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard value <= UInt64(data.count) else { throw .offsetOutOfBounds(offset: offset) }
            return Int(value)
        }

        mutating func sequence(_ types: [ABIType], base: Int) throws(ABIError) -> [ABIValue] {
            var values: [ABIValue] = []
            values.reserveCapacity(types.count)
            var head = base
            for type in types {
                values.append(try element(type, base: base, head: head))
                head += type.headSize
            }
            return values
        }

        /// `count` elements of one type (T[k] and T[]) without materializing the type list.
        mutating func repeated(_ type: ABIType, count: Int, base: Int) throws(ABIError) -> [ABIValue] {
            // Every element takes at least headSize bytes of head: bounds the allocation.
            let (need, overflow) = type.headSize.multipliedReportingOverflow(by: count)
            guard !overflow, base <= data.count, need <= data.count - base else {
                throw .offsetOutOfBounds(offset: base)
            }
            var values: [ABIValue] = []
            values.reserveCapacity(count)
            for i in 0..<count {
                values.append(try element(type, base: base, head: base + i * type.headSize))
            }
            return values
        }

        /// The element whose head is at `head`, in a sequence starting at `base`.
        mutating func element(_ type: ABIType, base: Int, head: Int) throws(ABIError) -> ABIValue {
            guard type.isDynamic else { return try value(type, at: head) }
            let offset = try readSize(at: head)
            let target = base + offset
            guard target <= data.count else { throw .offsetOutOfBounds(offset: head) }
            return try value(type, at: target)
        }

        mutating func value(_ type: ABIType, at offset: Int) throws(ABIError) -> ABIValue {
            switch type {
            case .uint(let bits):
                try spend(1)
                let v = UInt256(bigEndian: try readWord(at: offset))!
                guard v.bitWidth <= bits else { throw .nonCanonical(offset: offset, type: type.description) }
                return .uint(v)
            case .int(let bits):
                try spend(1)
                let v = Int256(bitPattern: UInt256(bigEndian: try readWord(at: offset))!)
                guard v.signedBitWidth <= bits else { throw .nonCanonical(offset: offset, type: type.description) }
                return .int(v)
            case .address:
                try spend(1)
                let w = try readWord(at: offset)
                guard w.prefix(12).allSatisfy({ $0 == 0 }) else {
                    throw .nonCanonical(offset: offset, type: type.description)
                }
                return .address(try! Address(bytes: Array(w.suffix(20))))
            case .bool:
                try spend(1)
                let w = try readWord(at: offset)
                guard w.prefix(31).allSatisfy({ $0 == 0 }), w.last! <= 1 else {
                    throw .nonCanonical(offset: offset, type: type.description)
                }
                return .bool(w.last! == 1)
            case .fixedBytes(let m):
                try spend(1)
                let w = try readWord(at: offset)
                guard w.dropFirst(m).allSatisfy({ $0 == 0 }) else {
                    throw .nonCanonical(offset: offset, type: type.description)
                }
                return .fixedBytes(Array(w.prefix(m)))
            case .bytes, .string:
                let b = try byteString(at: offset, type: type)
                if case .bytes = type { return .bytes(b) }
                guard let s = String(validating: b, as: UTF8.self) else { throw .invalidUTF8(offset: offset) }
                return .string(s)
            case .array(let element, let k):
                return .array(try repeated(element, count: k, base: offset))
            case .dynamicArray(let element):
                try spend(1)
                let count = try readSize(at: offset)
                return .array(try repeated(element, count: count, base: offset + 32))
            case .tuple(let types):
                return .tuple(try sequence(types, base: offset))
            }
        }

        mutating func byteString(at offset: Int, type: ABIType) throws(ABIError) -> [UInt8] {
            let length = try readSize(at: offset)
            let start = offset + 32
            let paddedLength = (length + 31) / 32 * 32
            guard paddedLength <= data.count - start else { throw .offsetOutOfBounds(offset: offset) }
            try spend(1 + paddedLength / 32)
            guard data[(start + length)..<(start + paddedLength)].allSatisfy({ $0 == 0 }) else {
                throw .nonCanonical(offset: offset, type: type.description)
            }
            return Array(data[start..<(start + length)])
        }
    }

    // MARK: Revert data

    /// The reason of a `revert("…")` / `require(…, "…")`: return data `Error(string)`
    /// (selector 0x08c379a0). Nil for anything else (custom errors, panics, empty data).
    public static func decodeRevertReason(_ data: [UInt8]) -> String? {
        guard data.count >= 4, Array(data.prefix(4)) == [0x08, 0xc3, 0x79, 0xa0],
            case .string(let s)? = try? decode(Array(data.dropFirst(4)), types: [.string]).first
        else { return nil }
        return s
    }
}
