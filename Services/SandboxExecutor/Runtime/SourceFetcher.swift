import CryptoPrimitives
import SandboxCore

/// One fetched source: the bytes handed to the job (as `/input/<n>`) and what enters the result
/// hash.
public struct FetchedSource: Sendable, Equatable {
    public let input: FetchedInput
    public let body: [UInt8]
    /// The HTTP status of the final response (always 2xx).
    public let status: Int

    public init(input: FetchedInput, body: [UInt8], status: Int) {
        self.input = input
        self.body = body
        self.status = status
    }
}

/// Fetches job sources over http(s) under a `URLPolicy` (issue 7). See `PolicedTransport` for the
/// connection rules (resolve once, check every address, pin, redirects by hand).
///
/// Errors: a URL the parser rejects is `.invalidRequest`; a refused scheme, userinfo or address is
/// `.refused`; everything else (DNS, connect, status other than 2xx, size, time, redirects) is
/// `.fetchFailed`. Messages name the host, never the full URL (it may carry an API key).
public struct SourceFetcher: Sendable {
    public let policy: URLPolicy
    public let limits: FetchLimits
    let transport: PolicedTransport

    public init(policy: URLPolicy, limits: FetchLimits = FetchLimits(), resolver: any HostResolver = SystemResolver()) {
        self.policy = policy
        self.limits = limits
        self.transport = PolicedTransport(policy: policy, resolver: resolver)
    }

    public func fetch(_ urlText: String) async throws(SandboxError) -> FetchedSource {
        let url = try SourceURL.parse(urlText)
        let response = try await transport.get(url, limits: limits)
        guard (200..<300).contains(response.status) else {
            throw SandboxError(.fetchFailed, "\(response.url.host) answered HTTP \(response.status)")
        }
        return FetchedSource(
            input: FetchedInput(url: urlText, sha256: SHA256.hash(response.body)), body: response.body,
            status: response.status)
    }

    /// Fetches every URL concurrently; the results keep the order of `urls`. The first failure
    /// cancels the rest and is thrown.
    public func fetchAll(_ urls: [String]) async throws(SandboxError) -> [FetchedSource] {
        do {
            return try await withThrowingTaskGroup(of: (Int, FetchedSource).self) { group in
                for (index, url) in urls.enumerated() {
                    group.addTask { (index, try await fetch(url)) }
                }
                var out = [FetchedSource?](repeating: nil, count: urls.count)
                for try await (index, source) in group { out[index] = source }
                return out.compactMap { $0 }
            }
        } catch let error as SandboxError {
            throw error
        } catch {
            throw SandboxError(.internal, "fetch: \(error)")
        }
    }
}
