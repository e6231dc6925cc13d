import DrctlCore
import Foundation
import Testing

/// `database.dataPlane` and `database.jobs`: parsed, defaulted to local, kept out of the fingerprint while
/// local, an unknown placement named with its position and the choices; the Job's own view of the manifest.
@Suite("database.dataPlane")
struct DataPlaneManifestTests {
    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    private func with(_ lines: String) -> String {
        ManifestFixtures.valid(
            replacing: "  password: { env: TEST_DB_PASSWORD }", with: "  password: { env: TEST_DB_PASSWORD }\n" + lines)
    }

    @Test func localUnlessTheManifestNamesAPlacement() throws {
        let plain = try load(ManifestFixtures.valid)
        #expect(plain.database.dataPlane == .local)
        #expect(plain.database.jobs == nil)
        #expect(plain.database.effectiveJobs.image == "ghcr.io/valeo/drctl:" + DrctlVersion.current)
        #expect(try load(with("  dataPlane: port-forward")).database.dataPlane == .portForward)
        #expect(try load(with("  dataPlane: local")).database.dataPlane == .local)
        let job = try load(
            with(
                """
                  dataPlane: job
                  jobs:
                    image: registry.example/drctl:1.2.3
                    passwordSecret: { name: valeo-db, key: password }
                    environmentSecret: drctl-offsite
                    backupClaim: drctl-backups
                    serviceAccount: drctl-jobs
                """))
        #expect(job.database.dataPlane == .job)
        #expect(
            job.database.jobs
                == Manifest.DataPlaneJobs(
                    image: "registry.example/drctl:1.2.3",
                    passwordSecret: .init(name: "valeo-db", key: "password"), environmentSecret: "drctl-offsite",
                    backupClaim: "drctl-backups", serviceAccount: "drctl-jobs"))
    }

    @Test func theLocalDefaultEncodesAsBeforeAndAJobManifestRoundTrips() throws {
        let plain = try load(ManifestFixtures.valid)
        let local = try load(with("  dataPlane: local"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(local.database) == encoder.encode(plain.database))
        #expect(!String(decoding: try plain.canonicalEncoding(), as: UTF8.self).contains("dataPlane"))
        let job = try load(with("  dataPlane: job\n  jobs: { backupClaim: drctl-backups }"))
        #expect(try job.canonicalEncoding() != plain.canonicalEncoding())
        let decoded = try JSONDecoder().decode(Manifest.self, from: job.canonicalEncoding())
        #expect(decoded == job)
    }

    @Test func anUnknownPlacementNamesItsPositionAndTheChoices() throws {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(with("  dataPlane: kubelet"))
        let error = #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(from: path) }
        let text = (error?.errorDescription ?? "").replacingOccurrences(of: path, with: "test.yaml")
        #expect(
            text == "test.yaml:10:14: database.dataPlane must be local (this machine), port-forward (a kubectl"
                + " port-forward drctl runs) or job (Kubernetes Jobs from drctl's image), found 'kubelet'")
    }
}
