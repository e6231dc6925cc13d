import Foundation

/// A run's write-ahead journal: records are appended (and made durable) before and after every side effect,
/// each chained to the previous line by its SHA-256.
public actor Journal {
    public nonisolated let runID: String
    public nonisolated let backend: any StateBackend
    private var lastLineHash: String?
    private var pendingWrite: Task<Void, any Error>?

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
    ///
    /// Steps append concurrently and a backend may suspend (the S3 backend uploads), so each record's place in
    /// the chain is fixed before the first suspension and the backend writes are queued one after the other.
    /// After a failed write the journal refuses further records: a gap would break the chain.
    public func append(_ record: JournalRecord) async throws {
        var record = record
        record.prev = lastLineHash
        let line: Data
        do { line = try JournalCoding.encoder.encode(record) } catch {
            throw JournalError.unwritable(path: backend.location, detail: "cannot encode record: \(error)")
        }
        lastLineHash = Fingerprint.of(line)
        let previous = pendingWrite
        let backend = self.backend
        let runID = self.runID
        // A new task, so that a cancelled run can still record its interruption.
        let write = Task {
            if let previous { try await previous.value }
            try await backend.append(line + Data("\n".utf8), runID: runID)
        }
        pendingWrite = write
        try await write.value
    }
}
