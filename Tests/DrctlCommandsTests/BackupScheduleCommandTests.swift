import ArgumentParser
import DrctlCore
import Foundation
import Testing

@testable import DrctlCommands

@Suite struct BackupScheduleCommandTests {
    @Test func applyIsOnlyForTheCronJob() throws {
        #expect(throws: (any Error).self) {
            try DrctlCommand.parseAsRoot([
                "backup", "schedule", "-f", "manifests/production.yaml", "--emit", "systemd", "--apply",
            ])
        }
        let command = try DrctlCommand.parseAsRoot([
            "backup", "schedule", "-f", "manifests/production.yaml", "--emit", "cronjob", "--apply",
        ])
        #expect((command as? BackupScheduleCommand)?.apply == true)
    }
}
