import DrctlCore
import Foundation
import Testing

/// `backups.compressor`: parsed, defaulted to auto, kept out of the fingerprint while it is the default, and
/// an unknown value named with its position and the choices.
@Suite("backups.compressor")
struct BackupCompressorManifestTests {
    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    private func withCompressor(_ value: String) -> String {
        ManifestFixtures.valid(replacing: "  sizeFloor: 10MB", with: "  sizeFloor: 10MB\n  compressor: \(value)")
    }

    @Test func autoUnlessTheManifestNamesOne() throws {
        #expect(try load(ManifestFixtures.valid).backups.compressor == .auto)
        for choice in BackupCompressor.allCases {
            #expect(try load(withCompressor(choice.rawValue)).backups.compressor == choice)
        }
    }

    @Test func theDefaultEncodesAsBeforeAndANamedOneRoundTrips() throws {
        let plain = try load(ManifestFixtures.valid)
        #expect(!String(decoding: try plain.canonicalEncoding(), as: UTF8.self).contains("compressor"))
        let auto = try load(withCompressor("auto"))
        #expect(!String(decoding: try auto.canonicalEncoding(), as: UTF8.self).contains("compressor"))
        let pigz = try load(withCompressor("pigz"))
        let decoded = try JSONDecoder().decode(Manifest.self, from: pigz.canonicalEncoding())
        #expect(decoded.backups.compressor == .pigz)
        #expect(try pigz.canonicalEncoding() != plain.canonicalEncoding())
    }

    @Test func anUnknownCompressorNamesItsPositionAndTheChoices() throws {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(withCompressor("zstd"))
        let error = #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(from: path) }
        let text = (error?.errorDescription ?? "").replacingOccurrences(of: path, with: "test.yaml")
        #expect(
            text == "test.yaml:13:15: backups.compressor must be gzip, pigz (parallel, same .sql.gz format) or auto"
                + " (pigz when installed), found 'zstd'")
    }
}
