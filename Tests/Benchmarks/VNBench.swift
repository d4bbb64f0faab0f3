import ArgumentParser

/// `vn-bench <area>`: runs one area's benchmarks (or `all`) and prints one JSON object per result
/// on standard output, nothing else (DESIGN §8). Build in release mode.
@main
struct VNBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vn-bench",
        abstract: "Validator-node benchmarks; prints JSON lines (DESIGN §8).",
        discussion: "Areas: \(BenchRegistry.areas.map(\.name).joined(separator: ", ")), or all.")

    @Argument(help: "The area to run, or `all`.")
    var area: String = "all"

    @Flag(help: "Fewer iterations (a smoke test, not a measurement).")
    var quick = false

    func run() async throws {
        let selected = area == "all" ? BenchRegistry.areas : BenchRegistry.areas.filter { $0.name == area }
        guard !selected.isEmpty else {
            throw ValidationError(
                "unknown area \(area); known: \(BenchRegistry.areas.map(\.name).joined(separator: ", ")), all")
        }
        for area in selected {
            try await area.run(BenchOptions(quick: quick)) { result in print(result.jsonLine) }
        }
    }
}

struct BenchOptions: Sendable {
    var quick: Bool
    /// `full` normally, `quick` with `--quick`.
    func scale(_ full: Int, quick small: Int) -> Int { quick ? small : full }
}

/// One benchmark area (`protocol`, later `tss`, `consensus`, …). To add an area, conform a type
/// and list it in `BenchRegistry.areas`.
protocol BenchArea: Sendable {
    var name: String { get }
    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws
}

enum BenchRegistry {
    static let areas: [any BenchArea] = [
        ProtocolBench(), ChainBench(), TSSBench(), TSSNetArea(), SandboxBench(), ConsensusBench(),
    ]
}

/// One line of output: `{"bench":…,"unit":…,"p50":…,"p99":…,"n":…,"note":…}`.
struct BenchResult: Sendable {
    enum Unit: String, Sendable { case s, ms, us, opsPerSecond = "ops/s", mbPerSecond = "MB/s", bytes }

    var bench: String
    var unit: Unit
    var p50: Double
    var p99: Double
    var n: Int
    var note: String

    var jsonLine: String {
        "{\"bench\":\(Self.quote(bench)),\"unit\":\(Self.quote(unit.rawValue)),\"p50\":\(Self.number(p50)),"
            + "\"p99\":\(Self.number(p99)),\"n\":\(n),\"note\":\(Self.quote(note))}"
    }

    static func number(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        let rounded = x >= 100 ? x.rounded() : (x * 1000).rounded() / 1000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return "\(rounded)"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Percentiles of a sample (nearest rank).
enum Stats {
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// For latencies: p50 and p99 of the values.
    static func latency(_ values: [Double]) -> (p50: Double, p99: Double) {
        let sorted = values.sorted()
        return (percentile(sorted, 50), percentile(sorted, 99))
    }

    /// For throughputs: p50 is the median run; "p99" is the slow tail (the rate 99% of runs
    /// reached or beat, i.e. the 1st percentile).
    static func throughput(_ values: [Double]) -> (p50: Double, p99: Double) {
        let sorted = values.sorted()
        return (percentile(sorted, 50), percentile(sorted, 1))
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
