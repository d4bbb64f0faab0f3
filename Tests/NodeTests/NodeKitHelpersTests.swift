// Helpers shared by the NodeKit test files (no tests of their own).
import Foundation
import NIOCore
import NIOPosix

@testable import NodeKit

/// A fresh empty directory under the system temp dir, removed by `nodeKitRemoveTree`.
func nodeKitTempDir(_ tag: String = "nodekit") throws -> String {
    var template = Array((NSTemporaryDirectory() + "/\(tag)-XXXXXX").utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let result = mkdtemp(buffer.baseAddress!) else { return nil }
        return String(cString: result)
    }
    guard let path else { throw FileIOError(path: tag, operation: "mkdtemp", errno: errno) }
    return path
}

func nodeKitRemoveTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Deterministic generator for tests (SplitMix64).
struct NodeKitSeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A response read off a real socket.
struct NodeKitHTTPReply {
    var status: Int
    var headers: [String: String]  // lower-cased names
    var body: String
}

/// Sends one HTTP/1.1 request with `Connection: close` to 127.0.0.1:`port` and reads the reply
/// until the server closes the connection.
func nodeKitHTTPRequest(
    port: Int, method: String = "GET", path: String, body: String = ""
) async throws -> NodeKitHTTPReply {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    var raw = [UInt8]()
    try await channel.executeThenClose { inbound, outbound in
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if !body.isEmpty { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + body
        try await outbound.write(ByteBuffer(string: request))
        for try await chunk in inbound { raw += chunk.readableBytesView }
    }
    return try nodeKitParseReply(raw)
}

/// Sends two requests on one keep-alive connection and returns both replies.
func nodeKitHTTPKeepAlive(port: Int, paths: [String]) async throws -> [NodeKitHTTPReply] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    var raw = [UInt8]()
    try await channel.executeThenClose { inbound, outbound in
        for (i, path) in paths.enumerated() {
            let last = i == paths.count - 1
            let request = "GET \(path) HTTP/1.1\r\nHost: x\r\n" + (last ? "Connection: close\r\n" : "") + "\r\n"
            try await outbound.write(ByteBuffer(string: request))
        }
        for try await chunk in inbound { raw += chunk.readableBytesView }
    }
    var replies = [NodeKitHTTPReply]()
    var rest = raw[...]
    while !rest.isEmpty {
        let (reply, used) = try nodeKitParseOne(Array(rest))
        replies.append(reply)
        rest = rest.dropFirst(used)
    }
    return replies
}

struct NodeKitHTTPParseError: Error {}

func nodeKitParseReply(_ raw: [UInt8]) throws -> NodeKitHTTPReply {
    try nodeKitParseOne(raw).0
}

/// Parses one response with a Content-Length body; returns it and the bytes consumed.
func nodeKitParseOne(_ raw: [UInt8]) throws -> (NodeKitHTTPReply, Int) {
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    guard let end = (0...(raw.count - separator.count)).first(where: { Array(raw[$0..<$0 + 4]) == separator })
    else { throw NodeKitHTTPParseError() }
    let headText = String(decoding: raw[..<end], as: UTF8.self)
    var lines = headText.components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst().split(separator: " ")
    guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw NodeKitHTTPParseError() }
    var headers = [String: String]()
    for line in lines {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let length = Int(headers["content-length"] ?? "") ?? (raw.count - end - 4)
    let bodyStart = end + 4
    let body = String(decoding: raw[bodyStart..<min(raw.count, bodyStart + length)], as: UTF8.self)
    return (NodeKitHTTPReply(status: status, headers: headers, body: body), bodyStart + length)
}
