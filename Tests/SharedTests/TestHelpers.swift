import Foundation
@_exported import TestSupport

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

/// A fresh temporary directory, removed after `body` (also when it throws).
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let base = FileManager.default.temporaryDirectory
        .appendingPathComponent("vn-shared-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: base) }
    return try body(base.path)
}
