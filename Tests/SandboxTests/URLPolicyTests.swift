import SandboxCore
import Testing

@Suite("URL policy")
struct URLPolicyTests {
    func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(parsing: text) else { preconditionFailure("bad test address \(text)") }
        return address
    }

    @Test(arguments: [
        // Every refused IPv4 class, with its edges.
        ("0.0.0.0", AddressClass.unspecified), ("0.255.255.255", .unspecified),
        ("127.0.0.1", .loopback), ("127.255.255.254", .loopback),
        ("10.0.0.1", .private), ("172.16.0.1", .private), ("172.31.255.255", .private), ("192.168.1.1", .private),
        ("100.64.0.1", .cgnat), ("100.127.255.255", .cgnat),
        ("169.254.169.254", .linkLocal), ("224.0.0.1", .multicast), ("239.255.255.255", .multicast),
        ("255.255.255.255", .broadcast), ("240.0.0.1", .reserved), ("192.0.0.8", .reserved),
        ("192.0.2.1", .documentation), ("198.51.100.7", .documentation), ("203.0.113.9", .documentation),
        ("198.18.0.1", .benchmarking), ("198.19.255.255", .benchmarking),
        // Just outside the ranges: global.
        ("1.1.1.1", .global), ("8.8.8.8", .global), ("172.15.255.255", .global), ("172.32.0.0", .global),
        ("100.63.255.255", .global), ("100.128.0.0", .global), ("11.0.0.0", .global), ("223.255.255.255", .global),
        ("198.20.0.0", .global), ("126.255.255.255", .global),
        // IPv6.
        ("::", .unspecified), ("::1", .loopback), ("fe80::1", .linkLocal), ("febf::1", .linkLocal),
        ("fec0::1", .siteLocal), ("fc00::1", .uniqueLocal), ("fdff:ffff::1", .uniqueLocal), ("ff02::1", .multicast),
        ("::ffff:127.0.0.1", .ipv4Mapped), ("::ffff:8.8.8.8", .ipv4Mapped), ("::ffff:7f00:1", .ipv4Mapped),
        ("64:ff9b::10.0.0.1", .nat64), ("64:ff9b:1::1", .nat64), ("2002:7f00:1::", .tunnel), ("2001::1", .tunnel),
        ("2001:db8::1", .documentation), ("2001:2::1", .benchmarking), ("2001:10::1", .reserved),
        ("::127.0.0.1", .reserved), ("100::1", .reserved), ("4000::1", .reserved),
        ("2606:4700:4700::1111", .global), ("2a00:1450:4001::1", .global), ("2001:4860:4860::8888", .global),
    ])
    func classifies(_ text: String, _ expected: AddressClass) {
        #expect(ip(text).addressClass == expected, "\(text)")
    }

    @Test func parsesAndPrintsAddresses() {
        #expect(ip("2001:db8:0:0:1:0:0:1").description == "2001:db8::1:0:0:1")
        #expect(ip("::ffff:192.0.2.1").bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1])
        #expect(ip("1::").description == "1::")
        #expect(ip("0:0:0:0:0:0:0:1") == ip("::1"))
        for bad in [
            "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.-4", "::1::", "1:2:3:4:5:6:7:8:9", ":1::",
            "1::2::3", "12345::", "g::1", "::1%eth0", "1:2:3:4:5:6:7::8:9", "::ffff:1.2.3", "1.2.3.4::",
        ] {
            #expect(IPAddress(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func parsesSourceURLs() throws {
        let url = try SourceURL.parse("HTTPS://Example.COM:8443/a/b?c=d%20e")
        #expect(url.scheme == "https" && url.host == "example.com" && url.port == 8443)
        #expect(url.target == "/a/b?c=d%20e" && url.hostAddress == nil)
        let bare = try SourceURL.parse("http://example.com")
        #expect(bare.port == 80 && bare.target == "/")
        let query = try SourceURL.parse("http://example.com?x=1")
        #expect(query.target == "/?x=1")
        let v6 = try SourceURL.parse("http://[::1]:8080/x")
        #expect(v6.hostAddress == ip("::1") && v6.port == 8080)
        let punycode = try SourceURL.parse("https://xn--bcher-kva.example/")
        #expect(punycode.host == "xn--bcher-kva.example")
        #expect(try SourceURL.parse("https://1.2.3.4/").hostAddress == ip("1.2.3.4"))
    }

    @Test(arguments: [
        "", "example.com", "http:/example.com", "http://", "http://:80/", "http://exa mple.com/",
        "http://bücher.example/", "http://example.com:0/", "http://example.com:65536/", "http://example.com:080/",
        "http://example.com:/", "http://example.com:8a/", "http://ex_ample.com/", "http://-example.com/",
        "http://example-.com/", "http://example..com/", "http://2130706433/", "http://0x7f.1/", "http://127.1/",
        "http://0177.0.0.1/", "http://1.2.3.4.5/", "http://[::1/", "http://[fe80::1%25eth0]/", "http://::1/",
        "http://[::1]x/", "http://example.com/a b", "http://example.com/%zz", "http://example.com/%4",
        "http://example.com/<script>", "http://example.com/#frag",
        "http://example.com/\u{7f}", "http://" + String(repeating: "a", count: 64) + ".com/",
    ])
    func rejectsMalformedURLs(_ text: String) {
        #expect(throws: SandboxError.self) { try SourceURL.parse(text) }
        do {
            _ = try SourceURL.parse(text)
        } catch {
            #expect(error.kind == .invalidRequest, "\(text): \(error)")
        }
    }

    @Test(arguments: [
        "ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)",
        "http://user:pass@example.com/", "http://user@127.0.0.1/", "https://@example.com/",
        "http://example.com\\@evil.com/",
    ])
    func refusesSchemesAndUserinfo(_ text: String) {
        do {
            _ = try SourceURL.parse(text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.kind == .refused, "\(text): \(error)")
        }
    }

    @Test func refusesNonGlobalAddressesUnlessAllowlisted() throws {
        let policy = URLPolicy()
        let local = try SourceURL.parse("http://127.0.0.1:8080/x")
        do {
            _ = try policy.check(local, resolved: [])
            Issue.record("127.0.0.1 allowed")
        } catch {
            #expect(error.kind == .refused && error.message.contains("loopback"))
        }
        let byHost = try SourceURL.parse("http://internal.example:8080/x")
        // A name is judged by every address it resolved to: one bad address refuses it.
        #expect(try policy.check(byHost, resolved: [ip("93.184.216.34")]) == [ip("93.184.216.34")])
        for bad in ["10.1.2.3", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fd00::1"] {
            do {
                _ = try policy.check(byHost, resolved: [ip("93.184.216.34"), ip(bad)])
                Issue.record("\(bad) allowed")
            } catch {
                #expect(error.kind == .refused)
            }
        }
        do {
            _ = try policy.check(byHost, resolved: [])
            Issue.record("no addresses accepted")
        } catch {
            #expect(error.kind == .fetchFailed)
        }

        let allowed = try URLPolicy(allowlist: ["127.0.0.1:8080", "10.0.0.0/8", "internal.example:9000", "::1"])
        #expect(try allowed.check(local, resolved: []) == [ip("127.0.0.1")])
        #expect(!allowed.permits(ip("127.0.0.1"), for: try SourceURL.parse("http://127.0.0.1:8081/")))
        #expect(!allowed.permits(ip("127.0.0.2"), for: local))
        #expect(allowed.permits(ip("10.200.0.1"), for: byHost))
        #expect(allowed.permits(ip("11.0.0.1"), for: byHost))  // global: always permitted
        #expect(!allowed.permits(ip("192.168.0.1"), for: byHost))
        let internal9000 = try SourceURL.parse("http://internal.example:9000/")
        #expect(allowed.permits(ip("192.168.0.1"), for: internal9000))
        #expect(allowed.permits(ip("::1"), for: byHost))
        #expect(!allowed.permits(ip("::2"), for: byHost))
    }

    @Test func allowlistEntriesAreStrict() throws {
        #expect(try AllowlistEntry(parsing: "127.0.0.1:5000") == .hostPort(host: "127.0.0.1", port: 5000))
        #expect(try AllowlistEntry(parsing: "[::1]:5000") == .hostPort(host: "::1", port: 5000))
        #expect(try AllowlistEntry(parsing: "Registry.Local:443") == .hostPort(host: "registry.local", port: 443))
        #expect(try AllowlistEntry(parsing: "fd00::/8").description == "fd00::/8")
        for bad in [
            "", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/08", "host", "host:0", "host:99999", "1.2.3.4:", "a b:1",
        ] {
            #expect(throws: SandboxError.self, "\(bad)") { try AllowlistEntry(parsing: bad) }
        }
    }

    @Test func resolvesRedirectLocations() throws {
        let base = try SourceURL.parse("https://example.com:8443/a/b/c?q=1")
        #expect(try base.resolving(location: "/x").text == "https://example.com:8443/x")
        #expect(try base.resolving(location: "d").text == "https://example.com:8443/a/b/d")
        #expect(try base.resolving(location: "../d?z").text == "https://example.com:8443/a/d?z")
        #expect(try base.resolving(location: "../../../../d").text == "https://example.com:8443/d")
        #expect(try base.resolving(location: "?r=2").text == "https://example.com:8443/a/b/c?r=2")
        #expect(try base.resolving(location: "//other.example/p").text == "https://other.example/p")
        #expect(try base.resolving(location: "http://127.0.0.1/").hostAddress == ip("127.0.0.1"))
        let v6 = try SourceURL.parse("http://[::1]:81/a")
        #expect(try v6.resolving(location: "b").text == "http://[::1]:81/b")
        for refused in ["file:///etc/passwd", "ftp://example.com/"] {
            do {
                _ = try base.resolving(location: refused)
                Issue.record("\(refused) followed")
            } catch {
                #expect(error.kind == .refused)
            }
        }
    }
}
