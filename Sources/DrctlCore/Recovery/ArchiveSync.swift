import Foundation

/// Copies the archive files from the off-site store to their destination and checks that every object arrived
/// with its size (runbook Szenario 2, step 7: `aws s3 sync s3://valeo-backups/archives/ /app/data/archive/`).
public struct ArchiveSync: Sendable {
    public var source: ObjectURL
    public var destination: String
    public var store: any ObjectStore

    public init(archive: Manifest.Archive, executables: ToolExecutables) throws {
        source = try ObjectURL(parsing: archive.source)
        destination = archive.destination.absolute
        switch source.scheme {
        case .s3: store = S3ObjectStore(bucket: source.bucket, executable: executables.aws)
        case .azure: store = AzureBlobObjectStore(container: source.bucket, executable: executables.az)
        }
    }

    public var plannedInvocations: [CommandInvocation] {
        [store.syncDown(prefix: source.key, directory: destination), store.list(prefix: source.key)]
    }

    public func run(context: StepContext) async throws -> StepOutputs {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try await context.runner.runChecked(store.syncDown(prefix: source.key, directory: destination))
        let listing = try await context.runner.runChecked(store.list(prefix: source.key))
        let objects = try store.parseList(listing.standardOutput).filter { !$0.key.hasSuffix("/") }
        var found = 0
        var bytes: Int64 = 0
        for object in objects {
            let relative = String(object.key.dropFirst(source.key.count)).drop { $0 == "/" }
            let path = destination + "/" + relative
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
            if size == object.size {
                found += 1
                bytes += object.size
            }
        }
        guard found == objects.count else {
            throw ScenarioError.archiveIncomplete(
                source: source.description, destination: destination, expected: objects.count, found: found)
        }
        return ["files": String(found), "bytes": String(bytes)]
    }
}
