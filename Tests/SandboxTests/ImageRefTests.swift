import JSON
import SandboxCore
import Testing

@Suite("Image references and manifests")
struct ImageRefTests {
    static let hexA = String(repeating: "a", count: 64)
    static let hexB = String(repeating: "b", count: 64)
    static let hexC = String(repeating: "c", count: 64)

    func kind(_ body: () throws -> Void) -> SandboxErrorKind? {
        do {
            try body()
            return nil
        } catch let error as SandboxError {
            return error.kind
        } catch {
            return .internal
        }
    }

    @Test func parsesPinnedReferences() throws {
        let ref = try ImageReference.parse("127.0.0.1:5000/test/median@sha256:\(Self.hexA)")
        #expect(ref.registry == "127.0.0.1:5000" && ref.registryHost == "127.0.0.1" && ref.registryPort == 5000)
        #expect(ref.repository == "test/median" && ref.tag == nil)
        #expect(ref.digest?.hex == Self.hexA && ref.manifestReference == "sha256:\(Self.hexA)")
        let deep = try ImageReference.parse("registry.example.com/a/b-c/d__e/f.g/h--i@sha256:\(Self.hexA)")
        #expect(deep.registry == "registry.example.com" && deep.repository == "a/b-c/d__e/f.g/h--i")
        // A tag next to a digest is informational; the digest decides.
        let both = try ImageReference.parse("localhost:5000/x:1.0@sha256:\(Self.hexA)")
        #expect(both.tag == "1.0" && both.digest != nil)
        #expect(both.description == "localhost:5000/x:1.0@sha256:\(Self.hexA)")
        let v6 = try ImageReference.parse("[::1]:5000/x@sha256:\(Self.hexA)")
        #expect(v6.registry == "[::1]:5000")
        #expect(try ImageReference.parse("localhost/x@sha256:\(Self.hexA)").registryPort == nil)
    }

    @Test func bareTagsAreRefusedUnlessAllowed() throws {
        for text in ["registry.example.com/busybox:latest", "127.0.0.1:5000/test/median:v1"] {
            #expect(kind { _ = try ImageReference.parse(text) } == .refused, "\(text)")
            let allowed = try ImageReference.parse(text, allowTags: true)
            #expect(allowed.tag != nil && allowed.digest == nil)
        }
        // No tag and no digest: refused by policy first, malformed even with tags allowed.
        #expect(kind { _ = try ImageReference.parse("registry.example.com/busybox") } == .refused)
        #expect(
            kind { _ = try ImageReference.parse("registry.example.com/busybox", allowTags: true) } == .invalidRequest)
    }

    @Test(arguments: [
        "", "busybox@sha256:\(hexA)", "library/busybox@sha256:\(hexA)", "registry.example.com@sha256:\(hexA)",
        "registry.example.com/@sha256:\(hexA)", "registry.example.com/Busybox@sha256:\(hexA)",
        "registry.example.com/a//b@sha256:\(hexA)", "registry.example.com/-a@sha256:\(hexA)",
        "registry.example.com/a-@sha256:\(hexA)", "registry.example.com/a...b@sha256:\(hexA)",
        "registry.example.com/a___b@sha256:\(hexA)", "registry.example.com/a/b/@sha256:\(hexA)",
        "registry.example.com/a@sha512:\(hexA)\(hexA)", "registry.example.com/a@sha256:\(hexA.dropLast())",
        "registry.example.com/a@sha256:\(hexA)0", "registry.example.com/a@sha256:\(hexA.uppercased())",
        "registry.example.com/a@md5:d41d8cd98f00b204e9800998ecf8427e", "registry.example.com/a@\(hexA)",
        "registry.example.com/a:@sha256:\(hexA)", "registry.example.com/a:.x@sha256:\(hexA)",
        "registry.example.com/a:\(String(repeating: "t", count: 129))@sha256:\(hexA)",
        "user@registry.example.com/a@sha256:\(hexA)", "registry.example.com:0/a@sha256:\(hexA)",
        "registry.example.com:99999/a@sha256:\(hexA)", "regi stry.example.com/a@sha256:\(hexA)",
        "registry.example.com/ä@sha256:\(hexA)",
        "registry.example.com/" + String(repeating: "a", count: 256) + "@sha256:\(hexA)",
    ])
    func rejectsMalformedReferences(_ text: String) {
        #expect(kind { _ = try ImageReference.parse(text, allowTags: true) } == .invalidRequest, "\(text)")
    }

    // MARK: Manifests

    func descriptor(_ mediaType: String, _ hex: String, _ size: Int, platform: JSONValue? = nil) -> JSONValue {
        var object: [String: JSONValue] = [
            "mediaType": .string(mediaType), "digest": .string("sha256:\(hex)"), "size": .int(size),
        ]
        if let platform { object["platform"] = platform }
        return .object(object)
    }

    func imageManifest(
        mediaType: String? = OCIMediaType.imageManifest, config: JSONValue? = nil, layers: [JSONValue]? = nil
    ) -> [UInt8] {
        var object: [String: JSONValue] = [
            "schemaVersion": 2,
            "config": config ?? descriptor(OCIMediaType.imageConfig, Self.hexA, 100),
            "layers": .array(layers ?? [descriptor(OCIMediaType.layerTarGzip, Self.hexB, 1000)]),
        ]
        if let mediaType { object["mediaType"] = .string(mediaType) }
        return JSONValue.object(object).serializedBytes()
    }

    @Test func parsesImageManifests() throws {
        guard case .image(let oci) = try OCIManifestDocument.parse(imageManifest(), contentType: nil) else {
            Issue.record("not an image")
            return
        }
        #expect(oci.config.digest.hex == Self.hexA && oci.layers.count == 1 && oci.layersSize == 1000)
        #expect(oci.layers[0].layerCompression == .gzip)
        // Docker v2 schema 2, media type from the document; OCI without the field, from Content-Type.
        let docker = imageManifest(
            mediaType: OCIMediaType.dockerManifest, config: descriptor(OCIMediaType.dockerConfig, Self.hexA, 10),
            layers: [
                descriptor(OCIMediaType.dockerLayerGzip, Self.hexB, 5), descriptor(OCIMediaType.layerTar, Self.hexC, 5),
            ])
        guard case .image(let d) = try OCIManifestDocument.parse(docker, contentType: OCIMediaType.dockerManifest)
        else {
            Issue.record("not an image")
            return
        }
        #expect(d.layers.map(\.layerCompression) == [.gzip, .plain])
        let untyped = imageManifest(mediaType: nil)
        #expect(throws: SandboxError.self) { try OCIManifestDocument.parse(untyped, contentType: nil) }
        #expect(
            try OCIManifestDocument.parse(untyped, contentType: "\(OCIMediaType.imageManifest); charset=utf-8")
                == OCIManifestDocument.parse(imageManifest(), contentType: nil))
    }

    @Test func rejectsBadManifests() {
        func rejected(_ bytes: [UInt8], contentType: String? = nil, limits: OCILimits = OCILimits()) -> Bool {
            kind { _ = try OCIManifestDocument.parse(bytes, contentType: contentType, limits: limits) }
                == .invalidRequest
        }
        #expect(rejected(Array("not json".utf8)))
        #expect(rejected(Array("[]".utf8)))
        #expect(rejected(Array(#"{"schemaVersion":1,"mediaType":"\#(OCIMediaType.imageManifest)"}"#.utf8)))
        #expect(rejected(imageManifest(mediaType: "application/vnd.example+json")))
        #expect(rejected(imageManifest(), contentType: OCIMediaType.dockerManifest))  // disagreeing types
        #expect(rejected(imageManifest(config: descriptor(OCIMediaType.layerTar, Self.hexA, 10))))
        #expect(rejected(imageManifest(config: descriptor(OCIMediaType.imageConfig, "xyz", 10))))
        #expect(rejected(imageManifest(config: descriptor(OCIMediaType.imageConfig, Self.hexA, -1))))
        #expect(rejected(imageManifest(layers: [descriptor(OCIMediaType.layerTarZstd, Self.hexB, 10)])))
        #expect(rejected(imageManifest(layers: [descriptor("application/octet-stream", Self.hexB, 10)])))
        #expect(rejected(imageManifest(layers: [.string("x")])))
        var sha512 = descriptor(OCIMediaType.layerTarGzip, Self.hexB, 10)
        if case .object(var o) = sha512 {
            o["digest"] = .string("sha512:" + Self.hexA + Self.hexA)
            sha512 = .object(o)
        }
        #expect(rejected(imageManifest(layers: [sha512])))
        var foreign = descriptor(OCIMediaType.layerTarGzip, Self.hexB, 10)
        if case .object(var o) = foreign {
            o["urls"] = ["https://example.com/layer"]
            foreign = .object(o)
        }
        #expect(rejected(imageManifest(layers: [foreign])))
        // Caps: manifest bytes, layer count, layer size, image size.
        #expect(rejected(imageManifest(), limits: OCILimits(maxManifestBytes: 100)))
        let three = Array(repeating: descriptor(OCIMediaType.layerTarGzip, Self.hexB, 10), count: 3)
        #expect(rejected(imageManifest(layers: three), limits: OCILimits(maxLayers: 2)))
        #expect(rejected(imageManifest(layers: three), limits: OCILimits(maxLayerBytes: 9)))
        #expect(rejected(imageManifest(layers: three), limits: OCILimits(maxImageBytes: 29)))
        #expect(!rejected(imageManifest(layers: three), limits: OCILimits(maxLayers: 3, maxImageBytes: 30)))
    }

    @Test func indexesPickLinuxAMD64() throws {
        func index(_ entries: [JSONValue]) -> [UInt8] {
            JSONValue.object([
                "schemaVersion": 2, "mediaType": .string(OCIMediaType.imageIndex), "manifests": .array(entries),
            ]).serializedBytes()
        }
        let arm = descriptor(
            OCIMediaType.imageManifest, Self.hexA, 500, platform: ["os": "linux", "architecture": "arm64"])
        let amd = descriptor(
            OCIMediaType.imageManifest, Self.hexB, 600, platform: ["os": "linux", "architecture": "amd64"])
        let win = descriptor(
            OCIMediaType.imageManifest, Self.hexC, 700, platform: ["os": "windows", "architecture": "amd64"])
        let picked = try OCIManifestDocument.parse(index([arm, win, amd]), contentType: nil)
        #expect(
            picked
                == .index(
                    OCIDescriptor(
                        mediaType: OCIMediaType.imageManifest, digest: try OCIDigest(parsing: "sha256:\(Self.hexB)"),
                        size: 600,
                        platform: .linuxAMD64)))
        #expect(kind { _ = try OCIManifestDocument.parse(index([arm, win]), contentType: nil) } == .imageNotFound)
        let nested = descriptor(
            OCIMediaType.imageIndex, Self.hexB, 600, platform: ["os": "linux", "architecture": "amd64"])
        #expect(kind { _ = try OCIManifestDocument.parse(index([nested]), contentType: nil) } == .invalidRequest)
        #expect(
            kind {
                _ = try OCIManifestDocument.parse(
                    index(Array(repeating: arm, count: 3)), contentType: nil, limits: OCILimits(maxIndexEntries: 2))
            } == .invalidRequest)
    }

    @Test func parsesConfigs() throws {
        let text = #"""
            {"architecture":"amd64","os":"linux","config":{"User":"65534:65534","Env":["PATH=/bin","A=b=c"],
             "Entrypoint":["/bin/sh","/job/median.sh"],"Cmd":["x"],"WorkingDir":"/job"},
             "rootfs":{"type":"layers","diff_ids":["sha256:\#(Self.hexA)"]}}
            """#
        let config = try OCIImageConfig.parse(Array(text.utf8), layerCount: 1)
        #expect(config.arguments == ["/bin/sh", "/job/median.sh", "x"])
        #expect(config.env == ["PATH=/bin", "A=b=c"] && config.workingDir == "/job" && config.user == "65534:65534")
        #expect(config.diffIDs.map(\.hex) == [Self.hexA])
        let empty = try OCIImageConfig.parse(Array(#"{"config":{"Cmd":null}}"#.utf8))
        #expect(empty.arguments.isEmpty && empty.user.isEmpty)
        for bad in [
            #"{"architecture":"arm64"}"#, #"{"os":"windows"}"#, #"{"config":{"Cmd":"sh"}}"#,
            #"{"config":{"Env":["NOEQUALS"]}}"#, #"{"config":{"Entrypoint":[1]}}"#, #"{"config":{"User":5}}"#,
            #"{"rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#, #"{"rootfs":{"type":"other"}}"#, "[1]",
        ] {
            #expect(kind { _ = try OCIImageConfig.parse(Array(bad.utf8)) } == .invalidRequest, "\(bad)")
        }
        #expect(kind { _ = try OCIImageConfig.parse(Array(text.utf8), layerCount: 2) } == .invalidRequest)
    }
}
