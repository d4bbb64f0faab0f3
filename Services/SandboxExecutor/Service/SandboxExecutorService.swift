import NodeKit
import ServiceKit
import Wire

/// `sandbox-executor`: Runs requested containers and WASM modules isolated.
///
/// Today the shell of the foundation: it serves its RPC port (every method answers
/// `unimplemented` until its issue lands), its HTTP endpoints, opens its stores and stays
/// registered with the local consensus-manager.
public enum SandboxExecutorService: LocalServiceDefinition {
    public static let kind = ServiceKind.sandboxExecutor
    public static let stores: [NodeHome.Store] = []
}
