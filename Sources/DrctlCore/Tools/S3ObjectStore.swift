import Foundation

/// One S3 bucket through the `aws` CLI. The endpoint comes from `AWS_ENDPOINT_URL` (read by aws itself) unless
/// `endpointURL` is set; credentials come from aws's usual chain, never from argv.
public struct S3ObjectStore: ObjectStore, Hashable {
    public var bucket: String
    public var executable: String
    /// `--endpoint-url`, for S3-compatible stores when the environment does not name one.
    public var endpointURL: String?

    public init(bucket: String, executable: String = "aws", endpointURL: String? = nil) {
        self.bucket = bucket
        self.executable = executable
        self.endpointURL = endpointURL
    }

    public var displayName: String { "s3://\(bucket)" }

    /// `aws s3 cp FILE|- s3://bucket/key --only-show-errors`.
    public func upload(_ source: LocalData, to key: String) throws(ObjectStoreError) -> CommandInvocation {
        invocation(["s3", "cp", Self.path(source), url(key), "--only-show-errors"])
    }

    /// `aws s3 cp s3://bucket/key FILE|- --only-show-errors`.
    public func download(_ key: String, to destination: LocalData) throws(ObjectStoreError) -> CommandInvocation {
        invocation(["s3", "cp", url(key), Self.path(destination), "--only-show-errors"])
    }

    /// `aws s3api list-objects-v2 --bucket B --prefix P --output json` (aws follows the pages itself).
    public func list(prefix: String) -> CommandInvocation {
        invocation(["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix, "--output", "json"])
    }

    public func parseList(_ output: Data) throws(ToolOutputError) -> [StoredObject] {
        struct Listing: Decodable {
            struct Object: Decodable {
                var Key: String
                var Size: Int64
                var LastModified: String?
                var ETag: String?
            }
            var Contents: [Object]?
        }
        // An empty bucket prints nothing at all with some aws versions.
        if output.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [] }
        let listing = try ToolOutputError.decodeJSON(
            Listing.self, from: output, tool: "aws", what: "list-objects-v2 JSON")
        return (listing.Contents ?? []).map {
            StoredObject(
                key: $0.Key,
                size: $0.Size,
                lastModified: $0.LastModified.flatMap(ToolTimestamp.parse),
                etag: $0.ETag.map(Self.unquoted)
            )
        }
    }

    /// `aws s3 sync DIR s3://bucket/prefix --only-show-errors`.
    public func syncUp(directory: String, prefix: String) -> CommandInvocation {
        invocation(["s3", "sync", directory, url(prefix), "--only-show-errors"])
    }

    public var syncDownKeepsPrefix: Bool { false }

    /// `aws s3 sync s3://bucket/prefix DIR --only-show-errors`.
    public func syncDown(prefix: String, directory: String) -> CommandInvocation {
        invocation(["s3", "sync", url(prefix), directory, "--only-show-errors"])
    }

    /// How many keys one `syncDown(prefix:directory:only:)` process names: its command line stays far below the
    /// kernel's limit (keys are at most 1 KiB), and every process lists the whole prefix once.
    public static let syncBatchKeys = 500

    /// `aws s3 sync s3://bucket/prefix DIR --exclude '*' --include KEY … --only-show-errors`, one process per
    /// `syncBatchKeys` keys instead of one `aws s3 cp` per file (aws's start costs about a second). aws reads a
    /// filter as an fnmatch pattern relative to the prefix, so `*`, `?` and `[` in a key are escaped as `[*]`, `[?]`
    /// and `[[]`: each filter matches exactly its key.
    public func syncDown(prefix: String, directory: String, only relativeKeys: [String]) -> [CommandInvocation]? {
        stride(from: 0, to: relativeKeys.count, by: Self.syncBatchKeys).map { start in
            let batch = relativeKeys[start..<min(start + Self.syncBatchKeys, relativeKeys.count)]
            return invocation(
                ["s3", "sync", url(prefix), directory, "--exclude", "*"]
                    + batch.flatMap { ["--include", Self.literalPattern($0)] } + ["--only-show-errors"])
        }
    }

    /// `key` as an fnmatch pattern that matches only itself.
    static func literalPattern(_ key: String) -> String {
        var pattern = ""
        for character in key {
            if "*?[".contains(character) { pattern += "[\(character)]" } else { pattern.append(character) }
        }
        return pattern
    }

    /// `aws s3 rm s3://bucket/key --only-show-errors`.
    public func delete(_ key: String) -> CommandInvocation {
        invocation(["s3", "rm", url(key), "--only-show-errors"])
    }

    /// `aws s3api head-object --bucket B --key K --output json`.
    public func head(_ key: String) -> CommandInvocation {
        invocation(["s3api", "head-object", "--bucket", bucket, "--key", key, "--output", "json"])
    }

    public func parseHead(_ result: CommandResult) throws(ObjectStoreError) -> StoredObject? {
        let key = Self.argument(after: "--key", in: result.invocation.arguments) ?? ""
        let found: CommandResult?
        do { found = try result.checkedUnlessAbsent() } catch {
            throw .headFailed(store: displayName, key: key, detail: error.causeOrStatus)
        }
        guard let result = found else { return nil }
        struct Head: Decodable {
            var ContentLength: Int64
            var LastModified: String?
            var ETag: String?
        }
        do {
            let head = try ToolOutputError.decodeJSON(
                Head.self, from: result.standardOutput, tool: "aws", what: "head-object JSON")
            return StoredObject(
                key: key,
                size: head.ContentLength,
                lastModified: head.LastModified.flatMap(ToolTimestamp.parse),
                etag: head.ETag.map(Self.unquoted)
            )
        } catch {
            throw .headFailed(store: displayName, key: key, detail: error.localizedDescription)
        }
    }

    private func url(_ key: String) -> String { "s3://\(bucket)/\(key)" }

    private func invocation(_ arguments: [String]) -> CommandInvocation {
        CommandInvocation(executable, arguments + (endpointURL.map { ["--endpoint-url", $0] } ?? []))
            .declaring(Self.objectAbsent)
    }

    /// aws about a key that is not there: `An error occurred (404) when calling the HeadObject operation: Not
    /// Found`, `(NoSuchKey)` from get-object.
    static let objectAbsent = ExitMeanings.when(standardErrorHolds: ["(404)", "Not Found", "NoSuchKey"], .absent)

    private static func path(_ data: LocalData) -> String {
        switch data {
        case .file(let path): return path
        case .stream: return "-"
        }
    }

    static func unquoted(_ etag: String) -> String {
        etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    static func argument(after flag: String, in arguments: [String]) -> String? {
        guard let index = arguments.firstIndex(of: flag), arguments.indices.contains(index + 1) else { return nil }
        return arguments[index + 1]
    }
}
