import Foundation

/// What a data-plane Job reports back to the drctl that conducts it: written by `drctl agent …` to the
/// container's termination message (`terminationMessagePath`, at most 4 KiB, which Kubernetes copies into the
/// pod's status) and as the last line of its log, prefixed with `marker`.
///
/// Success carries the measurements the local path checks too (SHA-256, byte count, each program's exit
/// status); failure carries the error's message and its kind, so the conductor ends with the same exit code
/// (a refused backup stays exit 3) as the same failure on the operator's machine.
public struct AgentVerdict: Sendable, Hashable, Codable {
    /// `backup-create`, `restore-load`, …: which agent command wrote it.
    public var command: String
    public var succeeded: Bool
    /// The backup's file name (`valeo_erp_backup_20261206_020000.sql.gz`).
    public var file: String?
    /// The SHA-256 of the bytes written (the compressed file), lowercase hex.
    public var sha256: String?
    public var bytes: Int64?
    /// Exit status of each program of the data pipeline (`pg_dump`: 0, `gzip`: 0), when it ran to the end.
    public var statuses: [String: Int32]
    /// Off-site keys written (`s3://bucket/postgresql/daily/<file>` and its `.sha256` sidecar).
    public var uploaded: [String]
    /// The record the Job's backup folder now holds (the catalog entry), for the conductor's summary.
    public var record: BackupRecord?
    /// The monthly record when this was the month's first backup in the Job's backup folder.
    public var monthly: BackupRecord?
    /// Problems that did not stop the work.
    public var warnings: [String]
    /// The error's message when it failed.
    public var error: String?
    /// `failed`, `refused` or `usage`: the failure's kind (exit 1, 3, 2).
    public var failureKind: String?
    /// The archive sync's part (`archive-sync`: its shard index) and the files it holds.
    public var shard: Int?
    public var files: Int?

    public init(
        command: String, succeeded: Bool, file: String? = nil, sha256: String? = nil, bytes: Int64? = nil,
        statuses: [String: Int32] = [:], uploaded: [String] = [], record: BackupRecord? = nil,
        monthly: BackupRecord? = nil, warnings: [String] = [], error: String? = nil, failureKind: String? = nil,
        shard: Int? = nil, files: Int? = nil
    ) {
        self.command = command
        self.succeeded = succeeded
        self.file = file
        self.sha256 = sha256
        self.bytes = bytes
        self.statuses = statuses
        self.uploaded = uploaded
        self.record = record
        self.monthly = monthly
        self.warnings = warnings
        self.error = error
        self.failureKind = failureKind
        self.shard = shard
        self.files = files
    }

    /// The last log line of an agent starts with this, then the verdict's JSON.
    public static let marker = "drctl-verdict: "

    /// Where Kubernetes reads the termination message from (the default `terminationMessagePath`).
    public static let terminationMessagePath = "/dev/termination-log"

    /// The failure verdict of an error, keeping its exit-code kind.
    public static func failure(command: String, error: any Error) -> AgentVerdict {
        let kind = (error as? any ClassifiedError)?.failureKind ?? .failed
        return AgentVerdict(
            command: command, succeeded: false, error: error.localizedDescription, failureKind: kind.verdictName)
    }

    /// One line of compact JSON (sorted keys, so the same verdict is the same text).
    public func encodedLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a verdict from a termination message or a log: the text after the last `marker`, else the whole
    /// text as JSON. nil when neither is a verdict.
    public static func parse(_ text: String) -> AgentVerdict? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var candidates: [Substring] = []
        if let range = text.range(of: marker, options: .backwards) {
            candidates.append(text[range.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)[0])
        }
        candidates.append(Substring(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        for candidate in candidates {
            if let verdict = try? decoder.decode(AgentVerdict.self, from: Data(candidate.utf8)) { return verdict }
        }
        return nil
    }

    /// The kind the conductor's error takes: the Job's own, `failed` when it said nothing.
    public var kind: FailureKind {
        switch failureKind {
        case "refused": .refused
        case "usage": .usage
        default: .failed
        }
    }
}

extension FailureKind {
    var verdictName: String {
        switch self {
        case .failed, .interrupted, .lockHeld: "failed"
        case .usage: "usage"
        case .refused: "refused"
        }
    }
}

extension AgentVerdict {
    /// Writes the verdict where Kubernetes reads a container's termination message; outside a pod (no such
    /// file to write) it is only the log line.
    public func writeTerminationMessage(path: String = AgentVerdict.terminationMessagePath) {
        guard let line = try? encodedLine(), let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        try? handle.write(contentsOf: Data(line.utf8))
    }
}
