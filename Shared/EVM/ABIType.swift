import Wire

/// A Solidity ABI type (Solidity ABI specification, "Types"). `fixed`/`ufixed` and function
/// types are not supported.
public indirect enum ABIType: Hashable, Sendable, CustomStringConvertible {
    /// `uint<M>`, 8 ≤ M ≤ 256, M % 8 == 0.
    case uint(bits: Int)
    /// `int<M>`, two's complement.
    case int(bits: Int)
    case address
    case bool
    /// `bytes<M>`, 1 ≤ M ≤ 32.
    case fixedBytes(Int)
    case bytes
    case string
    /// `T[k]`, k ≥ 1.
    case array(ABIType, count: Int)
    /// `T[]`.
    case dynamicArray(ABIType)
    /// `(T1,…,Tn)`.
    case tuple([ABIType])

    public static let uint256 = ABIType.uint(bits: 256)
    public static let int256 = ABIType.int(bits: 256)
    public static let bytes32 = ABIType.fixedBytes(32)

    /// Limits on parsed and constructed types (keep hostile ABI strings from building huge types).
    static let maxDepth = 32
    static let maxStaticSize = 1 << 24

    /// Parses a type string: `uint256`, `uint` (= uint256), `bytes32`, `(uint256,bytes)[]`,
    /// `tuple(address,bool)[2]`, `string[][3]`.
    public init(parsing text: String) throws(ABIError) {
        var parser = ABIParser(text)
        let type = try parser.parseType(depth: 0)
        parser.skipSpaces()
        guard parser.atEnd else { throw .invalidType(text) }
        self = type
    }

    /// The canonical name used in signatures (`uint256`, never `uint`).
    public var description: String {
        switch self {
        case .uint(let bits): "uint\(bits)"
        case .int(let bits): "int\(bits)"
        case .address: "address"
        case .bool: "bool"
        case .fixedBytes(let m): "bytes\(m)"
        case .bytes: "bytes"
        case .string: "string"
        case .array(let t, let k): "\(t)[\(k)]"
        case .dynamicArray(let t): "\(t)[]"
        case .tuple(let ts): "(" + ts.map(\.description).joined(separator: ",") + ")"
        }
    }

    /// Whether the encoding lives in the tail (spec: bytes, string, T[], and T[k] / tuples with a
    /// dynamic element).
    public var isDynamic: Bool {
        switch self {
        case .bytes, .string, .dynamicArray: true
        case .array(let t, _): t.isDynamic
        case .tuple(let ts): ts.contains { $0.isDynamic }
        default: false
        }
    }

    /// Bytes the value takes in the head: 32 for dynamic types, the whole encoding otherwise.
    public var headSize: Int {
        switch self {
        case _ where isDynamic: 32
        case .array(let t, let k): t.headSize * k
        case .tuple(let ts): ts.reduce(0) { $0 + $1.headSize }
        default: 32
        }
    }

    /// A value type that fits one word (indexed event parameters of these types are stored as is).
    var isWordType: Bool {
        switch self {
        case .uint, .int, .address, .bool, .fixedBytes: true
        default: false
        }
    }

    /// Checks the limits of a type built by hand (parsed types are checked while parsing).
    public func validate() throws(ABIError) {
        _ = try checkedStaticSize(depth: 0)
    }

    /// Head size with every limit checked.
    func checkedStaticSize(depth: Int) throws(ABIError) -> Int {
        guard depth <= ABIType.maxDepth else { throw .invalidType("nested deeper than \(ABIType.maxDepth)") }
        switch self {
        case .uint(let bits), .int(let bits):
            guard bits >= 8, bits <= 256, bits % 8 == 0 else { throw .invalidType(description) }
            return 32
        case .fixedBytes(let m):
            guard (1...32).contains(m) else { throw .invalidType(description) }
            return 32
        case .address, .bool, .bytes, .string:
            return 32
        case .dynamicArray(let t):
            _ = try t.checkedStaticSize(depth: depth + 1)
            return 32
        case .array(let t, let k):
            guard k >= 1 else { throw .invalidType(description) }
            let inner = try t.checkedStaticSize(depth: depth + 1)
            if t.isDynamic { return 32 }
            let (size, overflow) = inner.multipliedReportingOverflow(by: k)
            guard !overflow, size <= ABIType.maxStaticSize else { throw .invalidType("static size too large") }
            return size
        case .tuple(let ts):
            var size = 0
            for t in ts { size += try t.checkedStaticSize(depth: depth + 1) }
            guard size <= ABIType.maxStaticSize else { throw .invalidType("static size too large") }
            return isDynamic ? 32 : size
        }
    }
}

/// A parameter of a function or event declaration.
public struct ABIParameter: Hashable, Sendable {
    public var name: String
    public var type: ABIType
    /// Events only: the value goes into a topic.
    public var indexed: Bool

    public init(_ type: ABIType, name: String = "", indexed: Bool = false) {
        self.type = type
        self.name = name
        self.indexed = indexed
    }
}

/// Recursive-descent parser for type strings and human-readable declarations
/// (`function f(uint256 a, (bool,bytes)[] b) returns (bool)`, `event E(address indexed who)`).
struct ABIParser {
    let text: String
    let s: [UInt8]
    var i = 0

    init(_ text: String) {
        self.text = text
        s = Array(text.utf8)
    }

    var atEnd: Bool { i >= s.count }

    func peek() -> UInt8? { i < s.count ? s[i] : nil }

    mutating func skipSpaces() {
        while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") { i += 1 }
    }

    mutating func expect(_ c: Character) throws(ABIError) {
        skipSpaces()
        guard peek() == c.asciiValue else { throw .invalidType(text) }
        i += 1
    }

    private static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == UInt8(ascii: "_") || c == UInt8(ascii: "$")
    }

    mutating func identifier() -> String? {
        skipSpaces()
        guard let c = peek(), Self.isIdentStart(c) else { return nil }
        let start = i
        while let c = peek(), Self.isIdentStart(c) || (c >= 0x30 && c <= 0x39) { i += 1 }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    private mutating func number() throws(ABIError) -> Int? {
        let start = i
        while let c = peek(), c >= 0x30, c <= 0x39 { i += 1 }
        guard i > start else { return nil }
        guard i - start <= 9, s[start] != UInt8(ascii: "0") || i - start == 1 else { throw .invalidType(text) }
        return Int(String(decoding: s[start..<i], as: UTF8.self))!
    }

    mutating func parseType(depth: Int) throws(ABIError) -> ABIType {
        guard depth <= ABIType.maxDepth else { throw .invalidType("nested deeper than \(ABIType.maxDepth)") }
        skipSpaces()
        var type: ABIType
        if peek() == UInt8(ascii: "(") {
            type = .tuple(try parseParameterList(depth: depth + 1, allowIndexed: false).map(\.type))
        } else {
            guard let word = identifier() else { throw .invalidType(text) }
            if word == "tuple", peek() == UInt8(ascii: "(") {
                type = .tuple(try parseParameterList(depth: depth + 1, allowIndexed: false).map(\.type))
            } else {
                type = try Self.elementary(word, in: text)
            }
        }
        while peek() == UInt8(ascii: "[") {
            i += 1
            if let k = try number() {
                guard k >= 1 else { throw .invalidType(text) }
                type = .array(type, count: k)
            } else {
                type = .dynamicArray(type)
            }
            guard peek() == UInt8(ascii: "]") else { throw .invalidType(text) }
            i += 1
        }
        _ = try type.checkedStaticSize(depth: depth)
        return type
    }

    static func elementary(_ word: String, in text: String) throws(ABIError) -> ABIType {
        func suffix(_ prefix: String) -> Int?? {
            guard word.hasPrefix(prefix) else { return nil }
            let digits = word.dropFirst(prefix.count)
            if digits.isEmpty { return .some(nil) }
            guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), digits.first != "0", digits.count <= 3
            else { return .some(-1) }
            return .some(Int(digits))
        }
        switch word {
        case "address": return .address
        case "bool": return .bool
        case "string": return .string
        case "bytes": return .bytes
        default: break
        }
        let type: ABIType
        if let bits = suffix("uint") {
            type = .uint(bits: bits ?? 256)
        } else if let bits = suffix("int") {
            type = .int(bits: bits ?? 256)
        } else if let m = suffix("bytes"), let m {
            type = .fixedBytes(m)
        } else {
            throw .invalidType(text)
        }
        _ = try type.checkedStaticSize(depth: 0)
        return type
    }

    /// `( param, param, … )` where a param is `type [indexed] [location] [name]`.
    mutating func parseParameterList(depth: Int, allowIndexed: Bool) throws(ABIError) -> [ABIParameter] {
        try expect("(")
        var params: [ABIParameter] = []
        skipSpaces()
        if peek() == UInt8(ascii: ")") {
            i += 1
            return params
        }
        while true {
            var param = ABIParameter(try parseType(depth: depth))
            // `type [payable] [indexed] [location] [name]`: nothing after the name.
            while let word = identifier() {
                guard param.name.isEmpty else { throw .invalidType(text) }
                switch word {
                case "indexed" where allowIndexed && !param.indexed: param.indexed = true
                case "memory", "calldata", "storage", "payable": continue
                default: param.name = word
                }
            }
            params.append(param)
            skipSpaces()
            guard let c = peek() else { throw .invalidType(text) }
            i += 1
            if c == UInt8(ascii: ")") { return params }
            guard c == UInt8(ascii: ",") else { throw .invalidType(text) }
        }
    }
}
