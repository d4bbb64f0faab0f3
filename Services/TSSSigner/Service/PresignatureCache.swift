import CryptoPrimitives
import Foundation
import Synchronization
import TSSCore
import TSSStore

/// The presignatures this process made, decoded, next to their sealed copies in the store: a
/// signing takes its presignature from here instead of reading, opening and decoding the stored
/// one (a store read, an AES-GCM open and two scalar multiplications on the online round's
/// path at every signer). An accelerator only: the store stays the authority, and a presignature
/// taken from here is used only once the store's copy has been taken (deleted) and found equal
/// to the sealed bytes kept here. Empty after a restart; bounded (the oldest go first).
final class PresignatureCache: Sendable {
    struct Key: Hashable, Sendable {
        let record: KeyRecordID
        let session: [UInt8]
    }
    struct Entry: Sendable {
        let sealed: SecretBytes
        let signers: [PartyIndex]
        let box: PresignatureBox
    }
    private struct State {
        var entries: [Key: Entry] = [:]
        var order: [Key] = []
    }
    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    /// Keeps `presignature` (just stored as `sealed`) for a signing to take.
    func put(_ presignature: consuming Presignature, sealed: SecretBytes, record: KeyRecordID, session: [UInt8]) {
        let signers = presignature.signers
        let box = PresignatureBox()
        box.put(presignature)
        let key = Key(record: record, session: session)
        state.withLock { s in
            if s.entries.updateValue(Entry(sealed: sealed, signers: signers, box: box), forKey: key) == nil {
                s.order.append(key)
            }
            while s.order.count > capacity {
                s.entries[s.order.removeFirst()] = nil
            }
        }
    }

    /// Takes the entry of `session` (nil when this process has none).
    func take(record: KeyRecordID, session: [UInt8]) -> Entry? {
        let key = Key(record: record, session: session)
        return state.withLock { s in
            guard let entry = s.entries.removeValue(forKey: key) else { return nil }
            s.order.removeAll { $0 == key }
            return entry
        }
    }

    /// Forgets every presignature of `record` (retired: its store copies are dropped too).
    func drop(record: KeyRecordID) {
        state.withLock { s in
            s.entries = s.entries.filter { $0.key.record != record }
            s.order.removeAll { $0.record == record }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
