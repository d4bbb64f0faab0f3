import CryptoPrimitives

/// A contract function: selector, call encoding and output decoding (Solidity ABI specification,
/// "Function Selector and Argument Encoding").
public struct ABIFunction: Hashable, Sendable {
    public var name: String
    public var inputs: [ABIParameter]
    public var outputs: [ABIParameter]

    public init(name: String, inputs: [ABIType], outputs: [ABIType] = []) throws(ABIError) {
        try self.init(name: name, inputs: inputs.map { ABIParameter($0) }, outputs: outputs.map { ABIParameter($0) })
    }

    public init(name: String, inputs: [ABIParameter], outputs: [ABIParameter]) throws(ABIError) {
        guard ABIFunction.isIdentifier(name) else { throw .invalidDeclaration(name) }
        for p in inputs + outputs {
            guard !p.indexed else { throw .invalidDeclaration("function parameter marked indexed") }
            try p.type.validate()
        }
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Parses `baz(uint32,bool)`, `function baz(uint32 x, bool y) external pure returns (bool r)`
    /// and the like (parameter names, data locations and modifiers are accepted and ignored).
    public init(declaration: String) throws(ABIError) {
        var p = ABIParser(declaration)
        var name = p.identifier()
        if name == "function" { name = p.identifier() }
        guard let name else { throw .invalidDeclaration(declaration) }
        let inputs = try p.parseParameterList(depth: 1, allowIndexed: false)
        var outputs: [ABIParameter] = []
        while let word = p.identifier() {
            switch word {
            case "returns":
                guard outputs.isEmpty else { throw .invalidDeclaration(declaration) }
                outputs = try p.parseParameterList(depth: 1, allowIndexed: false)
            case "external", "public", "internal", "view", "pure", "payable", "nonpayable", "virtual", "override":
                continue
            default:
                throw .invalidDeclaration(declaration)
            }
        }
        p.skipSpaces()
        guard p.atEnd else { throw .invalidDeclaration(declaration) }
        try self.init(name: name, inputs: inputs, outputs: outputs)
    }

    static func isIdentifier(_ s: String) -> Bool {
        var p = ABIParser(s)
        return p.identifier() == s
    }

    /// `name(type1,type2)` with canonical type names.
    public var signature: String { "\(name)(" + inputs.map(\.type.description).joined(separator: ",") + ")" }

    /// The first 4 bytes of keccak256(signature).
    public var selector: [UInt8] { Array(Keccak256.hash(Array(signature.utf8)).prefix(4)) }

    /// selector ‖ enc(args).
    public func encodeCall(_ arguments: [ABIValue]) throws(ABIError) -> [UInt8] {
        selector + (try ABI.encode(arguments, types: inputs.map(\.type)))
    }

    /// The arguments of call data for this function (the selector must match).
    public func decodeCall(_ data: [UInt8]) throws(ABIError) -> [ABIValue] {
        guard data.count >= 4, Array(data.prefix(4)) == selector else { throw .selectorMismatch }
        return try ABI.decode(Array(data.dropFirst(4)), types: inputs.map(\.type))
    }

    /// The return values (`eth_call` output).
    public func decodeOutput(_ data: [UInt8]) throws(ABIError) -> [ABIValue] {
        try ABI.decode(data, types: outputs.map(\.type))
    }
}

/// What a decoded log holds for one event parameter.
public enum ABIEventArgument: Hashable, Sendable {
    /// The value (non-indexed parameters, and indexed value types).
    case value(ABIValue)
    /// An indexed `string`, `bytes`, array or tuple: only keccak256 of its in-place encoding is
    /// in the log (spec, "Encoding of Indexed Event Parameters").
    case hashed(Hash32)

    public var value: ABIValue? {
        if case .value(let v) = self { return v }
        return nil
    }
}

/// A contract event: topic 0, log encoding and decoding (Solidity ABI specification, "Events").
public struct ABIEvent: Hashable, Sendable {
    public var name: String
    public var parameters: [ABIParameter]
    public var anonymous: Bool

    public init(name: String, parameters: [ABIParameter], anonymous: Bool = false) throws(ABIError) {
        guard ABIFunction.isIdentifier(name) else { throw .invalidDeclaration(name) }
        for p in parameters { try p.type.validate() }
        let indexed = parameters.filter(\.indexed).count
        guard indexed <= (anonymous ? 4 : 3) else {
            throw .invalidDeclaration("\(name): \(indexed) indexed parameters")
        }
        self.name = name
        self.parameters = parameters
        self.anonymous = anonymous
    }

    /// Parses `event Transfer(address indexed from, address indexed to, uint256 value)` (the
    /// `event` keyword, names and a trailing `anonymous` are optional).
    public init(declaration: String) throws(ABIError) {
        var p = ABIParser(declaration)
        var name = p.identifier()
        if name == "event" { name = p.identifier() }
        guard let name else { throw .invalidDeclaration(declaration) }
        let parameters = try p.parseParameterList(depth: 1, allowIndexed: true)
        var anonymous = false
        if let word = p.identifier() {
            guard word == "anonymous" else { throw .invalidDeclaration(declaration) }
            anonymous = true
        }
        p.skipSpaces()
        guard p.atEnd else { throw .invalidDeclaration(declaration) }
        try self.init(name: name, parameters: parameters, anonymous: anonymous)
    }

    public var signature: String {
        "\(name)(" + parameters.map(\.type.description).joined(separator: ",") + ")"
    }

    /// keccak256(signature): topic 0 of every non-anonymous log of this event.
    public var topic0: Hash32 { Hash32.keccak(Array(signature.utf8)) }

    private var topicCount: Int { parameters.filter(\.indexed).count + (anonymous ? 0 : 1) }

    /// The topic an indexed parameter of `type` with `value` produces (also what a log filter
    /// matches on): the word itself for value types, keccak256 of the in-place encoding otherwise.
    public static func topic(for value: ABIValue, type: ABIType) throws(ABIError) -> Hash32 {
        if type.isWordType { return Hash32(validated: try ABI.encode(value, type: type)) }
        var out = [UInt8]()
        try inPlaceEncoding(value, type, top: true, into: &out)
        return Hash32.keccak(out)
    }

    /// Spec: bytes/string are their contents (padded to 32 only inside arrays and structs); arrays
    /// and structs concatenate their elements' encodings, no length, no offsets.
    private static func inPlaceEncoding(
        _ value: ABIValue, _ type: ABIType, top: Bool, into out: inout [UInt8]
    ) throws(ABIError) {
        switch (type, value) {
        case (.bytes, .bytes(let b)):
            out += b
            if !top { out += [UInt8](repeating: 0, count: (32 - b.count % 32) % 32) }
        case (.string, .string(let s)):
            let b = Array(s.utf8)
            out += b
            if !top { out += [UInt8](repeating: 0, count: (32 - b.count % 32) % 32) }
        case (.array(let element, let k), .array(let items)):
            guard items.count == k else { throw .outOfRange(path: "", type: type.description) }
            for item in items { try inPlaceEncoding(item, element, top: false, into: &out) }
        case (.dynamicArray(let element), .array(let items)):
            for item in items { try inPlaceEncoding(item, element, top: false, into: &out) }
        case (.tuple(let types), .tuple(let items)):
            guard items.count == types.count else { throw .typeMismatch(path: "", type: type.description) }
            for (item, t) in zip(items, types) { try inPlaceEncoding(item, t, top: false, into: &out) }
        default:
            guard type.isWordType else { throw .typeMismatch(path: "", type: type.description) }
            out += try ABI.encode(value, type: type)
        }
    }

    /// The topics and data of a log emitting `values` (one per parameter, in order).
    public func encodeLog(_ values: [ABIValue]) throws(ABIError) -> (topics: [Hash32], data: [UInt8]) {
        guard values.count == parameters.count else {
            throw .wrongValueCount(expected: parameters.count, got: values.count)
        }
        var topics = anonymous ? [] : [topic0]
        var dataValues: [ABIValue] = []
        var dataTypes: [ABIType] = []
        for (p, v) in zip(parameters, values) {
            if p.indexed {
                topics.append(try ABIEvent.topic(for: v, type: p.type))
            } else {
                dataValues.append(v)
                dataTypes.append(p.type)
            }
        }
        return (topics, try ABI.encode(dataValues, types: dataTypes))
    }

    /// Decodes a log of this event: one argument per parameter, in declaration order. Checks
    /// topic 0 (unless anonymous) and the topic count.
    public func decodeLog(topics: [Hash32], data: [UInt8]) throws(ABIError) -> [ABIEventArgument] {
        guard topics.count == topicCount else { throw .wrongTopicCount(expected: topicCount, got: topics.count) }
        if !anonymous, topics[0] != topic0 { throw .selectorMismatch }
        let nonIndexed = parameters.filter { !$0.indexed }.map(\.type)
        var dataValues = try ABI.decode(data, types: nonIndexed)[...]
        var nextTopic = anonymous ? 0 : 1
        var out: [ABIEventArgument] = []
        out.reserveCapacity(parameters.count)
        for p in parameters {
            if p.indexed {
                let topic = topics[nextTopic]
                nextTopic += 1
                out.append(p.type.isWordType ? .value(try ABI.decodeWord(topic.bytes, type: p.type)) : .hashed(topic))
            } else {
                out.append(.value(dataValues.removeFirst()))
            }
        }
        return out
    }
}
