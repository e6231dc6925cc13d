import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Journals and locks in a local folder: `<root>/runs/<runID>/journal.jsonl`, `<root>/locks/<environment>.lock`.
/// Every write is fsync'd before it returns.
public struct LocalStateBackend: StateBackend {
    public let root: String
    private let identity: ProcessIdentity

    public init(root: String, identity: ProcessIdentity = .current) {
        self.root = root
        self.identity = identity
    }

    public var location: String { root }

    public func journalPath(runID: String) -> String { "\(root)/runs/\(runID)/journal.jsonl" }
    public func lockPath(environment: String) -> String { "\(root)/locks/\(environment).lock" }

    public func writeGamedayReport(_ data: Data, runID: String) throws {
        let path = root + "/" + Self.gamedayReportPath(runID: try StateName.validated(runID))
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw JournalError.unwritable(path: path, detail: error.localizedDescription)
        }
    }

    /// Unreadable or foreign entries of `gameday/` are left out.
    public func gamedayReports() -> [String: Data] {
        let runIDs = (try? FileManager.default.contentsOfDirectory(atPath: root + "/gameday")) ?? []
        var reports: [String: Data] = [:]
        for runID in runIDs where (try? StateName.validated(runID)) != nil {
            reports[runID] = FileManager.default.contents(atPath: root + "/" + Self.gamedayReportPath(runID: runID))
        }
        return reports
    }

    public func runIDs() throws -> [String] {
        let runs = root + "/runs"
        guard FileManager.default.fileExists(atPath: runs) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: runs).filter {
                FileManager.default.fileExists(atPath: journalPath(runID: $0))
            }
        } catch {
            throw JournalError.unreadable(path: runs, detail: error.localizedDescription)
        }
    }

    public func readJournal(runID: String) throws -> Data {
        let path = journalPath(runID: try StateName.validated(runID))
        guard FileManager.default.fileExists(atPath: path) else {
            throw JournalError.runNotFound(runID: runID, location: root)
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw JournalError.unreadable(path: path, detail: error.localizedDescription)
        }
    }

    public func createJournal(runID: String) throws {
        let folder = "\(root)/runs/\(try StateName.validated(runID))"
        try makeDirectory(root + "/runs")
        guard mkdir(folder, 0o700) == 0 else {
            if errno == EEXIST { throw JournalError.runAlreadyExists(runID: runID, location: root) }
            throw JournalError.unwritable(path: folder, detail: String(cString: strerror(errno)))
        }
        let path = journalPath(runID: runID)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno))) }
        fsync(fd)
        close(fd)
        try syncDirectory(folder)
        try syncDirectory(root + "/runs")
    }

    public func append(_ line: Data, runID: String) throws {
        let path = journalPath(runID: try StateName.validated(runID))
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        try writeAll(line, to: fd, path: path)
        guard fsync(fd) == 0 else {
            throw JournalError.unwritable(path: path, detail: "fsync: " + String(cString: strerror(errno)))
        }
    }

    public func truncateJournal(runID: String, toLength length: Int) throws {
        let path = journalPath(runID: try StateName.validated(runID))
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0, fsync(fd) == 0 else {
            throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno)))
        }
    }

    /// Writes the lock to a temporary file, then links it into place: `link` fails atomically when the lock
    /// exists (like O_EXCL), and the lock is never seen half-written.
    public func acquireLock(_ lock: RunLock) throws {
        let environment = try StateName.validated(lock.environment)
        let folder = root + "/locks"
        try makeDirectory(root)
        try makeDirectory(folder)
        let path = lockPath(environment: environment)
        let temporary = "\(folder)/.\(environment).\(lock.nonce).tmp"
        let data: Data
        do { data = try JournalCoding.encoder.encode(lock) + Data("\n".utf8) } catch {
            throw JournalError.unwritable(path: path, detail: error.localizedDescription)
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JournalError.unwritable(path: temporary, detail: String(cString: strerror(errno)))
        }
        do {
            try writeAll(data, to: fd, path: temporary)
            fsync(fd)
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        defer { unlink(temporary) }
        if link(temporary, path) != 0 {
            let code = errno
            if code == EEXIST, let holder = try currentLock(environment: environment) {
                throw JournalError.lockHeld(holder, location: root, stale: holder.isStale(on: identity))
            }
            throw JournalError.unwritable(path: path, detail: String(cString: strerror(code)))
        }
        try syncDirectory(folder)
    }

    public func currentLock(environment: String) throws -> RunLock? {
        let path = lockPath(environment: try StateName.validated(environment))
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JournalCoding.decoder.decode(RunLock.self, from: data) } catch {
            throw JournalError.unreadable(path: path, detail: "not a drctl lock: \(error.localizedDescription)")
        }
    }

    public func releaseLock(environment: String, nonce: String) throws {
        guard let lock = try currentLock(environment: environment) else {
            throw JournalError.noLock(environment: environment, location: root)
        }
        guard lock.nonce == nonce else { throw JournalError.wrongNonce(environment: environment, location: root) }
        let path = lockPath(environment: environment)
        guard unlink(path) == 0 else {
            throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno)))
        }
        try syncDirectory(root + "/locks")
    }

    private func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw JournalError.unwritable(path: path, detail: error.localizedDescription)
        }
    }

    private func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno))) }
        fsync(fd)
        close(fd)
    }

    private func writeAll(_ data: Data, to fd: Int32, path: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw JournalError.unwritable(path: path, detail: String(cString: strerror(errno)))
                }
                offset += written
            }
        }
    }
}
