import DrctlCore
import Foundation
import Testing

/// `database.dataPlane`: parsed, defaulted to local, kept out of the fingerprint while it is the default, and an
/// unknown value named with the choices.
@Suite("database.dataPlane")
struct DataPlaneManifestTests {
    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    private func withDataPlane(_ value: String) -> String {
        ManifestFixtures.valid(replacing: "  host: db.example", with: "  host: db.example\n  dataPlane: \(value)")
    }

    @Test func localUnlessTheManifestNamesOne() throws {
        #expect(try load(ManifestFixtures.valid).database.dataPlane == .local)
        for choice in Manifest.DataPlane.allCases {
            #expect(try load(withDataPlane(choice.rawValue)).database.dataPlane == choice)
        }
    }

    @Test func localEncodesAsBeforeAndPortForwardRoundTrips() throws {
        let plain = try load(ManifestFixtures.valid)
        #expect(!String(decoding: try plain.canonicalEncoding(), as: UTF8.self).contains("dataPlane"))
        let local = try load(withDataPlane("local"))
        #expect(!String(decoding: try local.canonicalEncoding(), as: UTF8.self).contains("dataPlane"))
        let tunnel = try load(withDataPlane("port-forward"))
        let decoded = try JSONDecoder().decode(Manifest.self, from: tunnel.canonicalEncoding())
        #expect(decoded.database.dataPlane == .portForward)
        #expect(try tunnel.canonicalEncoding() != plain.canonicalEncoding())
    }

    @Test func anUnknownPlacementNamesTheChoices() throws {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(withDataPlane("tunnel"))
        let error = #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(from: path) }
        #expect(
            (error?.errorDescription ?? "").contains("database.dataPlane must be local (this machine), port-forward"))
        #expect((error?.errorDescription ?? "").contains("found 'tunnel'"))
    }
}
