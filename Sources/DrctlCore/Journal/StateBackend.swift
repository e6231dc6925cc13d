import Foundation

/// Where journals and run locks are kept: a local folder by default, or an S3 prefix shared by a team.
public protocol StateBackend: Sendable {
    /// For messages: the folder or `s3://bucket/prefix`.
    var location: String { get }

    /// The ids of every journaled run, in no particular order.
    func runIDs() async throws -> [String]
    /// The raw bytes of a run's journal.
    func readJournal(runID: String) async throws -> Data
    /// Creates an empty journal; fails if the run exists.
    func createJournal(runID: String) async throws
    /// Appends one line (ending in a newline) to the journal. Durable when it returns.
    func append(_ line: Data, runID: String) async throws
    /// Cuts the journal to its first `length` bytes (to drop a torn last line before appending again).
    func truncateJournal(runID: String, toLength length: Int) async throws

    /// Takes the environment's lock, or throws `JournalError.lockHeld` with the current holder.
    func acquireLock(_ lock: RunLock) async throws
    func currentLock(environment: String) async throws -> RunLock?
    /// Removes the lock only if its nonce matches; throws `noLock` or `wrongNonce` otherwise.
    func releaseLock(environment: String, nonce: String) async throws

    /// Stores a game day's JSON report beside the journals (`gameday/<runID>/report.json` in the folder or under
    /// the prefix), so every operator sharing the state sees it (the report's trend reads them back).
    func writeGamedayReport(_ data: Data, runID: String) async throws
    /// Every stored game-day report's JSON by run id.
    func gamedayReports() async throws -> [String: Data]
}

extension StateBackend {
    /// Where a game day's report lives under the state folder or prefix.
    static func gamedayReportPath(runID: String) -> String { "gameday/\(runID)/report.json" }

    /// Where `writeGamedayReport` puts the report of `runID`: a path, or an `s3://` URL.
    public func gamedayReportDestination(runID: String) -> String {
        location + "/" + Self.gamedayReportPath(runID: runID)
    }
}

/// Run ids and environment names become file and object names: keep them to a safe alphabet.
enum StateName {
    static func validated(_ name: String) throws(JournalError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, name.count <= 128, !name.hasPrefix("."), name.allSatisfy({ allowed.contains($0) }) else {
            throw .invalidRunID(name)
        }
        return name
    }
}

/// Where the state lives: `--state-dir`, else `DRCTL_STATE_DIR`, else `$XDG_STATE_HOME/drctl`,
/// else `~/.local/state/drctl`. An `s3://bucket/prefix` location selects the S3 backend (`StateBackends.make`).
public enum StateDirectory {
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let flag, !flag.isEmpty { return absolute(flag, environment: environment) }
        if let path = environment["DRCTL_STATE_DIR"], !path.isEmpty { return absolute(path, environment: environment) }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/drctl" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/drctl"
    }

    /// The user's local state folder, ignoring `DRCTL_STATE_DIR` (which may name an S3 location): the mirror of
    /// S3 state and scenario work files live here.
    public static func localDefault(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        resolve(flag: nil, environment: environment.filter { $0.key != "DRCTL_STATE_DIR" })
    }

    static func absolute(_ path: String, environment: [String: String]) -> String {
        if path.hasPrefix("/") || path.hasPrefix("s3://") { return path }
        if path == "~" || path.hasPrefix("~/") {
            return (environment["HOME"] ?? NSHomeDirectory()) + path.dropFirst()
        }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}
