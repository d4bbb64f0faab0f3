import SandboxCore
import Testing

@Suite struct SandboxCoreSmokeTests {
    @Test func moduleLinks() { _ = SandboxCore.self }
}
