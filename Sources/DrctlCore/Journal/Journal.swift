import Foundation

/// A run's write-ahead journal: records are appended (and made durable) before and after every side effect,
/// each chained to the previous line by its SHA-256.
public actor Journal {
    public nonisolated let runID: String
    public nonisolated let backend: any StateBackend
    private var lastLineHash: String?

    private init(runID: String, backend: any StateBackend, lastLineHash: String?) {
        self.runID = runID
        self.backend = backend
        self.lastLineHash = lastLineHash
    }

    /// Starts the journal of a new run.
    public static func create(runID: String, backend: any StateBackend) async throws -> Journal {
        try await backend.createJournal(runID: runID)
        return Journal(runID: runID, backend: backend, lastLineHash: nil)
    }

    /// Reads and verifies an existing journal.
    public static func read(runID: String, backend: any StateBackend) async throws -> JournalReadResult {
        let data = try await backend.readJournal(runID: runID)
        return try JournalReader.read(data, path: "\(backend.location)/runs/\(runID)/journal.jsonl")
    }

    /// Opens an existing journal to append to it. A torn last line is cut off first (the caller has the
    /// `JournalReadResult` and must report it in the next record).
    public static func reopen(runID: String, backend: any StateBackend, after read: JournalReadResult) async throws
        -> Journal
    {
        if read.tornTail != nil {
            try await backend.truncateJournal(runID: runID, toLength: read.validLength)
        }
        return Journal(runID: runID, backend: backend, lastLineHash: read.lastLineHash)
    }

    /// Appends one record, setting its `prev`. Durable when it returns.
    public func append(_ record: JournalRecord) async throws {
        var record = record
        record.prev = lastLineHash
        let line: Data
        do { line = try JournalCoding.encoder.encode(record) } catch {
            throw JournalError.unwritable(path: backend.location, detail: "cannot encode record: \(error)")
        }
        try await backend.append(line + Data("\n".utf8), runID: runID)
        lastLineHash = Fingerprint.of(line)
    }
}
