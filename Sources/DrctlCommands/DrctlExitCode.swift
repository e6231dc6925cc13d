import ArgumentParser
import DrctlCore
import Foundation

/// The documented exit codes (see `drctl --help`), and the one place errors are mapped to them.
enum DrctlExitCode: Int32 {
    case success = 0
    case stepFailed = 1
    case usage = 2
    case refused = 3
    case interrupted = 4
    case lockHeld = 5
    case notImplemented = 6

    /// The exit code for an error of drctl's own domains; nil for ArgumentParser's errors (help, usage,
    /// validation), which keep their own handling.
    static func forError(_ error: any Error) -> DrctlExitCode? {
        switch error {
        case let error as RunbookError:
            switch error {
            case .interrupted: return .interrupted
            case .stepRefused: return .refused
            case .drift, .unsafeToResume, .nothingToResume, .changedWhileResuming: return .refused
            case .unknownScenario: return .usage
            case .stepFailed, .stepTimedOut, .duplicateStep, .unknownDependency, .dependencyCycle, .missingOutput,
                .outputsUnavailable:
                return .stepFailed
            }
        case let error as JournalError:
            switch error {
            case .lockHeld: return .lockHeld
            case .runNotFound, .invalidRunID: return .usage
            case .noLock, .wrongNonce, .corruptLine, .brokenHashChain, .emptyJournal: return .refused
            case .runAlreadyExists, .unreadable, .unwritable, .backendFailed: return .stepFailed
            }
        case let error as DrctlError:
            switch error {
            case .notYetImplemented: return .notImplemented
            }
        case let error as BackupError:
            switch error {
            case .backupCorrupt, .backupEmpty, .backupUnderSizeFloor, .checksumMismatch, .backupNotInCatalog,
                .verificationFailed, .recoveryPointObjectiveMissed, .backupExists, .dumpUnderSizeFloor:
                return .refused
            case .databaseNameUnusableInFileName, .noOffsiteStore, .backupNotFound: return .usage
            case .localFolderUnusable, .catalogUnreadable, .catalogNotWritten, .dumpFailed, .fileNotWritten,
                .fileUnreadable, .offsiteOperationFailed, .offsiteCopiesOutOfSync:
                return .stepFailed
            }
        case let error as GamedayError:
            switch error {
            case .targetLooksLikeProduction, .faultNotPossible: return .refused
            case .drillUnreadable, .drillInvalid, .unknownScenario, .reportNotFound, .drillRequired: return .usage
            case .smokeCheckFailed, .badReleaseBecameReady, .childRunEnded: return .stepFailed
            }
        case let error as StatusError:
            switch error {
            // A failed checklist check is a failure like a failed step: 1, so `drctl status || page` works.
            case .checksFailed: return .stepFailed
            case .metricsNotWritten: return .stepFailed
            }
        case let error as RollbackError: return error.isRefusal ? .refused : .stepFailed
        case let error as RecoveryError:
            switch error {
            case .notABackupName, .invalidTime, .unknownTable, .unknownColumns: return .usage
            case .backupOfAnotherDatabase, .dumpReconnects, .notADatabaseDump, .noBackupBefore, .confirmationRequired,
                .notEnoughDisk, .rowsNotInBackup:
                return .refused
            case .rowsMissingAfterImport: return .stepFailed
            }
        case let error as ScenarioError: return error.isRefusal ? .refused : .stepFailed
        case is ManifestError, is SecretError: return .usage
        case is CommandFailure: return .stepFailed
        case is CancellationError: return .interrupted
        default: return nil
        }
    }
}

extension DrctlCommand {
    /// The entry point: runs the command and exits with the documented code for drctl's errors.
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            guard let code = DrctlExitCode.forError(error) else { exit(withError: error) }
            let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
            StandardStreams.err("Error: " + message)
            Foundation.exit(code.rawValue)
        }
    }
}
