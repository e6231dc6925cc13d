import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The emitted systemd units checked by the REAL `systemd-analyze verify`, with ExecStart= naming the drctl this
/// build made (the unit tests compare the units' text with the golden files; this one asks systemd).
@Suite struct BackupScheduleSystemdTests {
    @Test func systemdAnalyzeVerifyAcceptsTheUnits() async throws {
        let analyze = try TestPrograms.requireOnPath("systemd-analyze", install: "apt-get install systemd")
        let drctl = TestPrograms.projectRoot + "/.build/debug/drctl"
        let folder = NSTemporaryDirectory() + "drctl-schedule-systemd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/manifests", withIntermediateDirectories: true)
        try await withTearDown({ try? FileManager.default.removeItem(atPath: folder) }) {
            let manifestPath = folder + "/manifests/test.yaml"
            let yaml = """
                environment: test
                kube: { namespace: test }
                database: { host: 127.0.0.1, user: valeo, name: valeo_erp, password: { env: TEST_DB_PASSWORD } }
                backups: { local: backups, sizeFloor: 1kB, retention: { daily: 30, monthly: 12 } }
                releases:
                  postgresql: { name: postgresql, chart: bitnami/postgresql }
                  app: { name: valeo-erp, chart: bitnami/nginx, replicas: 1 }
                readiness: { url: "http://127.0.0.1:1/readyz" }
                objectives: { rpo: 24h, rto: 4h }
                schedule:
                  backups: "0 2 * * *"
                  image: ghcr.io/valeo/drctl:1.4.0
                  passwordSecret: { name: valeo-db, key: password }

                """
            try yaml.write(toFile: manifestPath, atomically: true, encoding: .utf8)
            let manifest = try ManifestLoader(environment: [:]).load(from: manifestPath)
            let files = try BackupScheduleEmitter(manifest: manifest, manifestText: yaml, drctlPath: drctl)
                .emit(.systemd)
            for file in files {
                try file.contents.write(toFile: folder + "/" + file.name, atomically: true, encoding: .utf8)
            }
            let result = try await CommandRunner().run(
                CommandInvocation(
                    analyze,
                    ["verify", "--man=no", folder + "/drctl-backup-test.timer", folder + "/drctl-backup-test.service"],
                    environment: ["SYSTEMD_LOG_LEVEL": "warning"]))
            let errors = result.standardErrorTail
            #expect(result.status == .exited(0), "systemd-analyze verify: \(errors)")
            #expect(!errors.contains("drctl-backup-test"), "systemd-analyze complained: \(errors)")
        }
    }
}
