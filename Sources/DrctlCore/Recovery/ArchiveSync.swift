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

    /// Where the store's sync writes: the destination itself, or (for a store that keeps the key prefix in the
    /// local path, as az does) a staging folder beside the files whose `<prefix>` subfolder is moved into place.
    var downloadDirectory: String {
        store.syncDownKeepsPrefix ? destination + "/.drctl-archive-staging" : destination
    }

    public var plannedInvocations: [CommandInvocation] {
        [store.syncDown(prefix: source.key, directory: downloadDirectory), store.list(prefix: source.key)]
    }

    public func run(context: StepContext) async throws -> StepOutputs {
        try FileManager.default.createDirectory(atPath: downloadDirectory, withIntermediateDirectories: true)
        try await context.runner.runChecked(store.syncDown(prefix: source.key, directory: downloadDirectory))
        if store.syncDownKeepsPrefix {
            try moveStagedFiles()
        }
        let listing = try await context.runner.runChecked(store.list(prefix: source.key))
        let objects = try store.parseList(listing.standardOutput).filter { !$0.key.hasSuffix("/") }
        let relatives = objects.map { String(String($0.key.dropFirst(source.key.count)).drop { $0 == "/" }) }
        let leftovers = removeInterruptedDownloads(expected: Set(relatives))
        if !leftovers.isEmpty {
            context.log(
                "removed \(leftovers.count) partial download(s) an interrupted sync left: \(leftovers.prefix(5))")
        }
        var found = 0
        var bytes: Int64 = 0
        for (object, relative) in zip(objects, relatives) {
            let path = destination + "/" + relative
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
            if size == object.size {
                found += 1
                bytes += object.size
            }
        }
        guard found == objects.count else {
            throw ScenarioError.archiveIncomplete(
                runID: context.runID, source: source.description, destination: destination, expected: objects.count,
                found: found)
        }
        var outputs: StepOutputs = ["files": String(found), "bytes": String(bytes)]
        if !leftovers.isEmpty { outputs["removedPartialDownloads"] = String(leftovers.count) }
        return outputs
    }

    /// `aws s3 sync` downloads into `<file>.<8 hex digits>` and renames it when done; a sync killed half-way (a
    /// SIGKILLed run whose leftover aws was stopped on resume) leaves that file behind. Removes exactly those:
    /// a file not in the listing whose name is an object's name plus such a suffix. Returns their paths relative
    /// to the destination.
    private func removeInterruptedDownloads(expected: Set<String>) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: destination) else { return [] }
        var removed: [String] = []
        while let relative = walker.nextObject() as? String {
            guard !expected.contains(relative), let dot = relative.lastIndex(of: ".") else { continue }
            let suffix = relative[relative.index(after: dot)...]
            guard suffix.count == 8, suffix.allSatisfy(\.isHexDigit), expected.contains(String(relative[..<dot])) else {
                continue
            }
            if (try? FileManager.default.removeItem(atPath: destination + "/" + relative)) != nil {
                removed.append(relative)
            }
        }
        return removed.sorted()
    }

    /// Moves every file below `<staging>/<prefix>` to the same relative path below the destination (replacing an
    /// older copy), then removes the staging folder.
    private func moveStagedFiles() throws {
        let files = FileManager.default
        let staged = downloadDirectory + "/" + source.key.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if let walker = files.enumerator(atPath: staged) {
            while let relative = walker.nextObject() as? String {
                let from = staged + "/" + relative
                var isDirectory: ObjCBool = false
                guard files.fileExists(atPath: from, isDirectory: &isDirectory), !isDirectory.boolValue else {
                    continue
                }
                let to = destination + "/" + relative
                try files.createDirectory(
                    atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                if files.fileExists(atPath: to) { try files.removeItem(atPath: to) }
                try files.moveItem(atPath: from, toPath: to)
            }
        }
        try files.removeItem(atPath: downloadDirectory)
    }
}
