import Foundation

/// One Azure Blob container through the `az` CLI. Authentication comes only from
/// `AZURE_STORAGE_CONNECTION_STRING` in the environment (inherited, or set here and redacted), never argv.
public struct AzureBlobObjectStore: ObjectStore, Hashable {
    public var container: String
    public var executable: String
    /// Put into the child's environment as `AZURE_STORAGE_CONNECTION_STRING` and redacted; `nil` inherits it.
    public var connectionString: String?

    public init(container: String, executable: String = "az", connectionString: String? = nil) {
        self.container = container
        self.executable = executable
        self.connectionString = connectionString
    }

    public var displayName: String { "azure://\(container)" }

    /// `az storage blob upload --container-name C --name K --file F --overwrite`. az cannot read stdin.
    public func upload(_ source: LocalData, to key: String) throws(ObjectStoreError) -> CommandInvocation {
        guard case .file(let path) = source else {
            throw .streamingUnsupported(store: displayName, operation: "upload from")
        }
        return invocation(["upload", "--container-name", container, "--name", key, "--file", path, "--overwrite"])
    }

    /// `az storage blob download --container-name C --name K --file F`. Downloads go through a file: az writes
    /// progress and warnings where a stream would carry the data.
    public func download(_ key: String, to destination: LocalData) throws(ObjectStoreError) -> CommandInvocation {
        guard case .file(let path) = destination else {
            throw .streamingUnsupported(store: displayName, operation: "download to")
        }
        return invocation(["download", "--container-name", container, "--name", key, "--file", path])
    }

    /// `az storage blob list --container-name C --prefix P --num-results * -o json` (every page).
    public func list(prefix: String) -> CommandInvocation {
        invocation([
            "list", "--container-name", container, "--prefix", prefix, "--num-results", "*", "--output", "json",
        ])
    }

    public func parseList(_ output: Data) throws(ToolOutputError) -> [StoredObject] {
        try ToolOutputError.decodeJSON([Blob].self, from: output, tool: "az", what: "blob list JSON").map(\.object)
    }

    /// `az storage blob upload-batch --destination C --source DIR --destination-path PREFIX --overwrite`.
    /// (`az storage blob sync` needs azcopy, which az downloads on first use; upload-batch needs nothing more.)
    public func syncUp(directory: String, prefix: String) -> CommandInvocation {
        var arguments = ["upload-batch", "--destination", container, "--source", directory]
        if !prefix.isEmpty { arguments += ["--destination-path", prefix] }
        return invocation(arguments + ["--overwrite"])
    }

    /// `az storage blob download-batch --source C --destination DIR --pattern 'PREFIX*'`: DIR must exist, and each
    /// blob lands at `DIR/<its whole name>`, prefix included (az has no option to strip it).
    public var syncDownKeepsPrefix: Bool { true }

    public func syncDown(prefix: String, directory: String) -> CommandInvocation {
        invocation(["download-batch", "--source", container, "--destination", directory, "--pattern", prefix + "*"])
    }

    /// `az storage blob delete --container-name C --name K`.
    public func delete(_ key: String) -> CommandInvocation {
        invocation(["delete", "--container-name", container, "--name", key])
    }

    /// `az storage blob show --container-name C --name K -o json`.
    public func head(_ key: String) -> CommandInvocation {
        invocation(["show", "--container-name", container, "--name", key, "--output", "json"])
    }

    public func parseHead(_ result: CommandResult) throws(ObjectStoreError) -> StoredObject? {
        let key = S3ObjectStore.argument(after: "--name", in: result.invocation.arguments) ?? ""
        let found: CommandResult?
        do { found = try result.checkedUnlessAbsent() } catch {
            throw .headFailed(store: displayName, key: key, detail: error.causeOrStatus)
        }
        guard let result = found else { return nil }
        do {
            return try ToolOutputError.decodeJSON(
                Blob.self, from: result.standardOutput, tool: "az", what: "blob JSON"
            ).object
        } catch {
            throw .headFailed(store: displayName, key: key, detail: error.localizedDescription)
        }
    }

    private struct Blob: Decodable {
        struct Properties: Decodable {
            var contentLength: Int64?
            var lastModified: String?
            var etag: String?
        }
        var name: String
        var properties: Properties?

        var object: StoredObject {
            StoredObject(
                key: name,
                size: properties?.contentLength ?? 0,
                lastModified: properties?.lastModified.flatMap(ToolTimestamp.parse),
                etag: properties?.etag.map(S3ObjectStore.unquoted)
            )
        }
    }

    private func invocation(_ arguments: [String]) -> CommandInvocation {
        var environment: [String: String] = [:]
        var secrets: [String] = []
        if let connectionString, !connectionString.isEmpty {
            environment["AZURE_STORAGE_CONNECTION_STRING"] = connectionString
            secrets.append(connectionString)
        }
        return CommandInvocation(
            executable,
            ["storage", "blob"] + arguments + ["--only-show-errors"],
            environment: environment,
            secrets: secrets
        ).declaring(
            ExitMeanings.when(standardErrorHolds: ["BlobNotFound", "ResourceNotFound", "does not exist"], .absent))
    }
}
