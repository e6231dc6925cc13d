import Foundation

/// Journals and locks under an S3 prefix, for teams whose operators run drctl from different machines:
/// `s3://BUCKET/PREFIX/runs/<runID>/journal.jsonl` and `s3://BUCKET/PREFIX/locks/<environment>.lock`.
///
/// Everything goes through the real `aws` CLI (so `AWS_ENDPOINT_URL`, profiles and credentials work as usual).
/// S3 has no append: each record is appended to a local mirror (fsync'd) and the whole journal is uploaded before
/// `append` returns. The lock is created with a conditional write (`If-None-Match: *`) and removed with
/// `If-Match: <ETag>`, so two operators can never both hold it, nor remove a lock that was replaced meanwhile.
public struct S3StateBackend: StateBackend {
    public let bucket: String
    /// Empty, or ends with `/`.
    public let prefix: String
    /// The `aws` program (`DRCTL_AWS` overrides it, as for every other use of aws).
    public let awsExecutable: String
    private let runner: any CommandRunning
    private let s3api: S3API
    private let mirror: LocalStateBackend
    private let identity: ProcessIdentity

    /// - Parameter mirrorDirectory: a local folder for the journals being written and for temporary files.
    public init(
        bucket: String, prefix: String, mirrorDirectory: String, runner: any CommandRunning,
        awsExecutable: String = ToolExecutables().aws, identity: ProcessIdentity = .current
    ) {
        self.bucket = bucket
        self.awsExecutable = awsExecutable
        self.s3api = S3API(executable: awsExecutable, bucket: bucket)
        let trimmed = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
        self.runner = runner
        self.mirror = LocalStateBackend(root: mirrorDirectory, identity: identity)
        self.identity = identity
    }

    /// Parses `s3://bucket/prefix`.
    public init(
        url: String, mirrorDirectory: String, runner: any CommandRunning, awsExecutable: String = ToolExecutables().aws,
        identity: ProcessIdentity = .current
    ) throws(JournalError) {
        guard url.hasPrefix("s3://") else {
            throw .backendFailed(operation: "state location \(url)", detail: "not an s3://bucket/prefix URL")
        }
        let path = url.dropFirst("s3://".count)
        let bucket = path.prefix { $0 != "/" }
        guard !bucket.isEmpty else {
            throw .backendFailed(operation: "state location \(url)", detail: "the bucket name is missing")
        }
        self.init(
            bucket: String(bucket), prefix: String(path.dropFirst(bucket.count)), mirrorDirectory: mirrorDirectory,
            runner: runner, awsExecutable: awsExecutable, identity: identity)
    }

    public var location: String { "s3://\(bucket)/\(prefix)".trimmingSuffix("/") }

    func journalKey(runID: String) -> String { "\(prefix)runs/\(runID)/journal.jsonl" }
    func lockKey(environment: String) -> String { "\(prefix)locks/\(environment).lock" }

    public func runIDs() async throws -> [String] {
        let result = try await aws(s3api.listPrefixes(under: prefix + "runs/"), operation: "list runs")
        guard !result.standardOutput.isEmpty else { return [] }
        struct Listing: Decodable {
            struct CommonPrefix: Decodable { var Prefix: String }
            var CommonPrefixes: [CommonPrefix]?
        }
        let listing: Listing
        do { listing = try JSONDecoder().decode(Listing.self, from: result.standardOutput) } catch {
            throw JournalError.backendFailed(operation: "list runs in \(location)", detail: "unexpected aws output")
        }
        return (listing.CommonPrefixes ?? []).compactMap { entry in
            let id = entry.Prefix.dropFirst(prefix.count + "runs/".count).trimmingSuffix("/")
            return (try? StateName.validated(id)) != nil ? id : nil
        }
    }

    public func readJournal(runID: String) async throws -> Data {
        let runID = try StateName.validated(runID)
        try FileManager.default.createDirectory(
            atPath: "\(mirror.root)/runs/\(runID)", withIntermediateDirectories: true)
        let path = mirror.journalPath(runID: runID)
        let result = try await aws(
            s3api.getObject(journalKey(runID: runID), to: path), operation: "download the journal of \(runID)",
            allowFailure: true)
        if result.meaning == .absent { throw JournalError.runNotFound(runID: runID, location: location) }
        try check(result, operation: "download the journal of \(runID)")
        return try mirror.readJournal(runID: runID)
    }

    public func createJournal(runID: String) async throws {
        let runID = try StateName.validated(runID)
        let empty = try temporaryFile(Data())
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let result = try await aws(
            s3api.putObject(journalKey(runID: runID), body: empty, onlyIfAbsent: true),
            operation: "create the journal of \(runID)", allowFailure: true)
        if Self.isPreconditionFailed(result) { throw JournalError.runAlreadyExists(runID: runID, location: location) }
        try check(result, operation: "create the journal of \(runID)")
        try? FileManager.default.removeItem(atPath: "\(mirror.root)/runs/\(runID)")
        try mirror.createJournal(runID: runID)
    }

    public func append(_ line: Data, runID: String) async throws {
        try mirror.append(line, runID: runID)
        try await upload(runID: runID)
    }

    public func truncateJournal(runID: String, toLength length: Int) async throws {
        try mirror.truncateJournal(runID: runID, toLength: length)
        try await upload(runID: runID)
    }

    private func upload(runID: String) async throws {
        try await aws(
            s3api.putObject(journalKey(runID: runID), body: mirror.journalPath(runID: runID)),
            operation: "upload the journal of \(runID)")
    }

    public func writeGamedayReport(_ data: Data, runID: String) async throws {
        let runID = try StateName.validated(runID)
        try mirror.writeGamedayReport(data, runID: runID)
        let key = prefix + Self.gamedayReportPath(runID: runID)
        try await aws(
            s3api.putObject(key, body: mirror.root + "/" + key.dropFirst(prefix.count)),
            operation: "upload the game-day report of \(runID)")
    }

    /// Downloads every `gameday/*/report.json` under the prefix into the mirror in one `aws s3 cp --recursive`
    /// and reads them there.
    public func gamedayReports() async throws -> [String: Data] {
        try await aws(
            s3api.copyDown(prefix: prefix + "gameday/", to: mirror.root + "/gameday/", including: "*/report.json"),
            operation: "download the game-day reports")
        return mirror.gamedayReports()
    }

    public func acquireLock(_ lock: RunLock) async throws {
        let environment = try StateName.validated(lock.environment)
        let body = try temporaryFile(try JournalCoding.encoder.encode(lock) + Data("\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: body) }
        let result = try await aws(
            s3api.putObject(lockKey(environment: environment), body: body, onlyIfAbsent: true),
            operation: "take the lock of \(environment)", allowFailure: true)
        if Self.isPreconditionFailed(result) {
            guard let holder = try await lockObject(environment: environment)?.lock else {
                throw JournalError.backendFailed(
                    operation: "take the lock of \(environment)",
                    detail: "the lock existed, then vanished; try again")
            }
            throw JournalError.lockHeld(holder, location: location, stale: holder.isStale(on: identity))
        }
        try check(result, operation: "take the lock of \(environment)")
    }

    public func currentLock(environment: String) async throws -> RunLock? {
        try await lockObject(environment: try StateName.validated(environment))?.lock
    }

    public func releaseLock(environment: String, nonce: String) async throws {
        let environment = try StateName.validated(environment)
        guard let (lock, etag) = try await lockObject(environment: environment) else {
            throw JournalError.noLock(environment: environment, location: location)
        }
        guard lock.nonce == nonce else { throw JournalError.wrongNonce(environment: environment, location: location) }
        let result = try await aws(
            s3api.deleteObject(lockKey(environment: environment), ifMatch: etag),
            operation: "release the lock of \(environment)", allowFailure: true)
        if Self.isPreconditionFailed(result) {
            throw JournalError.backendFailed(
                operation: "release the lock of \(environment)",
                detail: "the lock was replaced while it was being released; nothing was removed")
        }
        try check(result, operation: "release the lock of \(environment)")
    }

    private func lockObject(environment: String) async throws -> (lock: RunLock, etag: String)? {
        let path = try temporaryFile(Data())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await aws(
            s3api.getObject(lockKey(environment: environment), to: path), operation: "read the lock of \(environment)",
            allowFailure: true)
        if result.meaning == .absent { return nil }
        try check(result, operation: "read the lock of \(environment)")
        struct Head: Decodable { var ETag: String }
        guard let head = try? JSONDecoder().decode(Head.self, from: result.standardOutput),
            let data = FileManager.default.contents(atPath: path),
            let lock = try? JournalCoding.decoder.decode(RunLock.self, from: data)
        else {
            throw JournalError.unreadable(
                path: "s3://\(bucket)/\(lockKey(environment: environment))", detail: "not a drctl lock")
        }
        return (lock, head.ETag)
    }

    /// Runs `aws`. State writes must complete even while a run is being cancelled (the interruption record is
    /// written then), so the command runs in a task that does not inherit the caller's cancellation.
    @discardableResult
    private func aws(_ invocation: CommandInvocation, operation: String, allowFailure: Bool = false) async throws
        -> CommandResult
    {
        let runner = self.runner
        let result: CommandResult
        do { result = try await Task { try await runner.run(invocation) }.value } catch {
            throw JournalError.backendFailed(
                operation: "\(operation) in \(location)",
                detail: (error as? LocalizedError)?.errorDescription ?? "\(error)")
        }
        if !allowFailure { try check(result, operation: operation) }
        return result
    }

    private func check(_ result: CommandResult, operation: String) throws {
        do { try result.checked() } catch {
            throw JournalError.backendFailed(
                operation: "\(operation) in \(location)", detail: error.errorDescription ?? "\(error)")
        }
    }

    private func temporaryFile(_ data: Data) throws -> String {
        let folder = mirror.root + "/tmp"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + UUID().uuidString
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw JournalError.unwritable(path: path, detail: "cannot create a temporary file") }
        return path
    }

    private static func isPreconditionFailed(_ result: CommandResult) -> Bool {
        result.meaning == .refused(S3API.preconditionFailed)
    }
}

extension StringProtocol {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : String(self)
    }
}

/// Chooses the state backend from the state location: `s3://bucket/prefix` is shared state on S3 (with a local
/// mirror under the user's state directory), anything else a local folder.
public enum StateBackends {
    public static func make(
        location: String, runner: any CommandRunning,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any StateBackend {
        guard location.hasPrefix("s3://") else { return LocalStateBackend(root: location) }
        let local =
            StateDirectory.localDefault(environment: environment) + "/s3-mirror/"
            + location.dropFirst("s3://".count).replacingOccurrences(of: "/", with: "_")
        return try S3StateBackend(
            url: location, mirrorDirectory: local, runner: runner,
            awsExecutable: ToolExecutables(environment: environment).aws)
    }
}
