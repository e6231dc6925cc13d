import ArgumentParser
import DrctlCore
import Testing

@testable import DrctlCommands

@Suite struct BackupCommandTests {
    @Test func backupErrorsMapToTheDocumentedCodes() {
        let cases: [(BackupError, Int32)] = [
            (.backupCorrupt(file: "f", detail: "gzip -t: unexpected end of file"), 3),
            (.backupEmpty(file: "f"), 3),
            (.backupUnderSizeFloor(file: "f", size: 1, floor: ByteSize(bytes: 10)), 3),
            (.checksumMismatch(file: "f", expected: "a", actual: "b"), 3),
            (.verificationFailed(failed: ["daily/f"]), 3),
            (.recoveryPointObjectiveMissed(newest: nil, age: nil, objective: .seconds(86_400)), 3),
            (.dumpFailed(database: "d", detail: "x"), 1),
            (.offsiteCopiesOutOfSync(missing: 1, mismatched: 0, extra: 0), 1),
            (.noOffsiteStore(manifest: "m"), 2),
        ]
        for (error, code) in cases {
            #expect(DrctlExitCode.forError(error)?.rawValue == code, "\(error)")
        }
    }

    @Test func everySubcommandIsThere() throws {
        for name in ["create", "verify", "prune", "list", "sync"] {
            let command = try DrctlCommand.parseAsRoot(["backup", name, "-f", "manifests/production.yaml"])
            #expect(type(of: command).configuration.commandName == name)
        }
    }

    @Test func verifyTakesAFileNameNotAPath() {
        #expect(throws: (any Error).self) {
            try DrctlCommand.parseAsRoot(["backup", "verify", "-f", "m.yaml", "--backup", "/etc/passwd"])
        }
    }

    @Test func corruptMessagesSayWhatWhereAndWhatToDo() {
        let message = BackupError.backupCorrupt(
            file: "daily/valeo_erp_backup_20251009_020000.sql.gz", detail: "gzip -t: unexpected end of file"
        ).localizedDescription
        #expect(message.contains("daily/valeo_erp_backup_20251009_020000.sql.gz"))
        #expect(message.contains("restore stopped before touching the database"))
        #expect(message.contains("off-site copy"))
    }
}
