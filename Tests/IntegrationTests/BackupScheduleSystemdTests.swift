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
        try await withTearDown({ try? FileManager.default.removeItem(atPath: folder) }) {
            let files = try ScheduleTestManifest.emitter(
                project: folder, environment: "test", kube: "  namespace: test", drctlPath: drctl
            ).emit(.systemd)
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
