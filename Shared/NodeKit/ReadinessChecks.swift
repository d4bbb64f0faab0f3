import LevelDB

extension ReadinessCheck {
    /// Ready while `store` is open and answers a read (of `probeKey`, which need not exist).
    public static func levelDB(
        name: String = "database", store: LevelDBStore, probeKey: [UInt8] = Array("__readyz_probe".utf8)
    ) -> ReadinessCheck {
        ReadinessCheck(name: name) {
            guard !store.isClosed else { return .notReady("\(store.path) is closed") }
            do {
                _ = try store.get(probeKey)
                return .ready("\(store.path) open")
            } catch {
                return .notReady("\(store.path): \(error)")
            }
        }
    }
}
