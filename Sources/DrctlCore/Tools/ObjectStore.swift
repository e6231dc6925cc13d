import Foundation

/// Local data on one side of an object-store copy: a file, or a process stream (stdin when uploading,
/// stdout when downloading), so `aws s3 cp s3://… - | gzip -dc | psql` never lands on disk.
public enum LocalData: Sendable, Hashable {
    case file(String)
    case stream
}

/// One object in a bucket or container, as a listing or a head request reports it.
public struct StoredObject: Sendable, Hashable, Codable {
    /// The full key, including the prefix (`postgresql/daily/valeo_erp_2026-11-25.sql.gz`).
    public var key: String
    public var size: Int64
    public var lastModified: Date?
    public var etag: String?

    public init(key: String, size: Int64, lastModified: Date? = nil, etag: String? = nil) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
        self.etag = etag
    }
}

/// An off-site copy target: pure builders for one bucket (S3) or container (Azure Blob) and the parsers of
/// their CLIs' output. Keys are relative to the bucket/container.
public protocol ObjectStore: Sendable {
    /// Where this store lives, for messages and plans (`s3://valeo-backups`, `azure://valeo-backups`).
    var displayName: String { get }

    /// Copies local data up to `key`.
    func upload(_ source: LocalData, to key: String) throws(ObjectStoreError) -> CommandInvocation
    /// Copies `key` down to local data.
    func download(_ key: String, to destination: LocalData) throws(ObjectStoreError) -> CommandInvocation
    /// Lists every object under `prefix`; read with `parseList`.
    func list(prefix: String) -> CommandInvocation
    func parseList(_ output: Data) throws(ToolOutputError) -> [StoredObject]
    /// Copies the files of a local folder up under `prefix` (new and changed files).
    func syncUp(directory: String, prefix: String) -> CommandInvocation
    /// Copies the objects under `prefix` into a local folder, which must exist.
    func syncDown(prefix: String, directory: String) -> CommandInvocation
    /// `true` when `syncDown` writes an object at `directory/<whole key>` (az download-batch) rather than at
    /// `directory/<key without prefix>` (aws s3 sync).
    var syncDownKeepsPrefix: Bool { get }
    /// Copies only the objects at `relativeKeys` (paths below `prefix`) into a local folder, at those paths, in as
    /// few processes as the store's CLI allows; nil when it has no such copy (then each key is downloaded alone).
    func syncDown(prefix: String, directory: String, only relativeKeys: [String]) -> [CommandInvocation]?
    func delete(_ key: String) -> CommandInvocation
    /// Asks for one object's size and time; read with `parseHead`.
    func head(_ key: String) -> CommandInvocation
    /// `nil` when the object does not exist; throws for any other failure (auth, network).
    func parseHead(_ result: CommandResult) throws(ObjectStoreError) -> StoredObject?
}

/// `s3://bucket/prefix/` or `azure://container/prefix/`, split into its parts.
public struct ObjectURL: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable, Codable {
        case s3
        case azure
    }

    public var scheme: Scheme
    /// The bucket (S3) or container (Azure).
    public var bucket: String
    /// The key or prefix, without a leading slash; a prefix keeps its trailing slash.
    public var key: String

    public init(scheme: Scheme, bucket: String, key: String = "") {
        self.scheme = scheme
        self.bucket = bucket
        self.key = key
    }

    /// Parses `s3://bucket/some/prefix/`.
    public init(parsing text: String) throws(ObjectStoreError) {
        guard let separator = text.range(of: "://") else { throw .invalidURL(text) }
        guard let scheme = Scheme(rawValue: text[..<separator.lowerBound].lowercased()) else {
            throw .invalidURL(text)
        }
        let rest = text[separator.upperBound...]
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { throw .invalidURL(text) }
        self.init(scheme: scheme, bucket: String(bucket), key: String(rest.dropFirst(bucket.count).drop { $0 == "/" }))
    }

    public var description: String { "\(scheme.rawValue)://\(bucket)/\(key)" }

    /// This URL's prefix joined with `name`, with exactly one slash between them.
    public func appending(_ name: String) -> ObjectURL {
        ObjectURL(scheme: scheme, bucket: bucket, key: ObjectKey.join(key, name))
    }
}

enum ObjectKey {
    static func join(_ prefix: String, _ name: String) -> String {
        if prefix.isEmpty { return name }
        let trimmedName = name.drop { $0 == "/" }
        return prefix.hasSuffix("/") ? prefix + trimmedName : prefix + "/" + trimmedName
    }
}

/// Why an object-store operation cannot be built or its answer is not what was expected.
public enum ObjectStoreError: Error, Sendable, Hashable, LocalizedError {
    case invalidURL(String)
    /// The CLI cannot stream this direction (az has no stdin upload); the caller must go through a local file.
    case streamingUnsupported(store: String, operation: String)
    case headFailed(store: String, key: String, detail: String)

    public var errorDescription: String? {
        switch self {
        case .invalidURL(let text):
            return "'\(text)' is not an object URL; write it as s3://bucket/prefix/ or azure://container/prefix/."
        case .streamingUnsupported(let store, let operation):
            return "\(store) cannot \(operation) a stream; drctl must stage the data in a local file first"
                + " (this is a drctl bug if you see it: please report it)."
        case .headFailed(let store, let key, let detail):
            return "could not look up \(key) in \(store): \(detail)\n  Check the credentials and the endpoint"
                + " (AWS_ENDPOINT_URL / AZURE_STORAGE_CONNECTION_STRING) and that the bucket or container exists."
        }
    }
}

extension ObjectStore {
    public func syncDown(prefix: String, directory: String, only relativeKeys: [String]) -> [CommandInvocation]? {
        nil
    }
}

extension ObjectStoreError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .invalidURL: .usage
        case .streamingUnsupported, .headFailed: .failed
        }
    }
}
