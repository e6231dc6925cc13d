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
        let objects = try await listing(runner: context.runner)
        let leftovers = removeInterruptedDownloads(expected: Set(objects.map(\.relative)))
        if !leftovers.isEmpty {
            context.log(
                "removed \(leftovers.count) partial download(s) an interrupted sync left: \(leftovers.prefix(5))")
        }
        let present = try measure(objects, runID: context.runID)
        var outputs: StepOutputs = ["files": String(present.files), "bytes": String(present.bytes)]
        if !leftovers.isEmpty { outputs["removedPartialDownloads"] = String(leftovers.count) }
        return outputs
    }

    /// What one shard of the archive holds at the destination after `syncShard`.
    public struct ShardResult: Sendable, Hashable {
        public var files: Int
        public var bytes: Int64
        /// Files downloaded now (the others were already there with their off-site size).
        public var downloaded: Int
    }

    /// Syncs only the keys of `shard` (a stable part of the listing, `ArchiveShard.contains`): the objects that
    /// are missing at the destination or have another size come down with the store's sync of only those keys
    /// (one aws process per batch; a store without one downloads each with its copy command), then every object
    /// of the shard is checked for its off-site size. What `drctl agent archive-sync` runs in each pod of the
    /// Indexed sync Job.
    public func syncShard(
        _ shard: ArchiveShard, runner: any CommandRunning, log: (String) -> Void
    ) async throws -> ShardResult {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let objects = try await listing(runner: runner).filter { shard.contains($0.relative) }
        let leftovers = removeInterruptedDownloads(expected: Set(objects.map(\.relative)))
        if !leftovers.isEmpty { log("removed \(leftovers.count) partial download(s): \(leftovers.prefix(5))") }
        let missing = objects.filter { Self.size(at: destination + "/" + $0.relative) != $0.object.size }
        if let syncs = store.syncDown(prefix: source.key, directory: destination, only: missing.map(\.relative)) {
            for sync in syncs { try await runner.runChecked(sync) }
        } else {
            for entry in missing {
                let path = destination + "/" + entry.relative
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try await runner.runChecked(try store.download(entry.object.key, to: .file(path)))
            }
        }
        let present = try measure(objects, runID: "RUN_ID")
        return ShardResult(files: present.files, bytes: present.bytes, downloaded: missing.count)
    }

    /// How `syncShard` brings a shard's missing keys into `directory`, for plans.
    func plannedShardDownload(into directory: String) -> String {
        if let sync = store.syncDown(prefix: source.key, directory: directory, only: ["<key>"])?.first {
            return sync.redactedCommandLine + " (an --include for each key, in batches)"
        }
        let download = try? store.download(source.key + "<key>", to: .file(directory + "/<key>"))
        return (download?.redactedCommandLine ?? "download") + " for each"
    }

    /// Every object below the source (folders left out), with its path relative to the destination.
    func listing(runner: any CommandRunning) async throws -> [(object: StoredObject, relative: String)] {
        let listing = try await runner.runChecked(store.list(prefix: source.key))
        return try store.parseList(listing.standardOutput).filter { !$0.key.hasSuffix("/") }.map {
            ($0, String(String($0.key.dropFirst(source.key.count)).drop { $0 == "/" }))
        }
    }

    /// Counts the objects present at the destination with their off-site size; throws when one is not.
    private func measure(
        _ objects: [(object: StoredObject, relative: String)], runID: String
    ) throws -> (files: Int, bytes: Int64) {
        var found = 0
        var bytes: Int64 = 0
        for (object, relative) in objects where Self.size(at: destination + "/" + relative) == object.size {
            found += 1
            bytes += object.size
        }
        guard found == objects.count else {
            throw ScenarioError.archiveIncomplete(
                runID: runID, source: source.description, destination: destination, expected: objects.count,
                found: found)
        }
        return (found, bytes)
    }

    private static func size(at path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
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

/// One of the `count` parts the archive's keys are split into for the sync Job's pods: a key belongs to the
/// part its SHA-256 (of the path relative to `archive.source`) points to, so every pod, on any machine and in
/// any later run, agrees on the split without talking to the others.
public struct ArchiveShard: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public func contains(_ relativeKey: String) -> Bool {
        count <= 1 || Self.index(of: relativeKey, count: count) == index
    }

    /// The part `relativeKey` belongs to: the first 8 bytes of its SHA-256, modulo `count`.
    public static func index(of relativeKey: String, count: Int) -> Int {
        let hex = SHA256Checksum.of(Data(relativeKey.utf8))
        let value = UInt64(hex.prefix(16), radix: 16) ?? 0
        return Int(value % UInt64(max(count, 1)))
    }

    /// `shard 2 of 4`.
    public var description: String { "shard \(index) of \(count)" }
}
