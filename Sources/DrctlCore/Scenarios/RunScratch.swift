import Foundation

/// A run's private scratch folder (`<workRoot>/<runID>`, mode 0700) for downloaded backups and 0600 values files.
enum RunScratch {
    static func folder(workRoot: String, runID: String, sub: String? = nil) throws -> String {
        var path = workRoot + "/" + runID
        if let sub { path += "/" + sub }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }

    /// Writes `text` to `path` readable by the owner only; the file is created 0600 before any byte is written.
    static func writePrivate(_ text: String, to path: String) throws {
        let manager = FileManager.default
        if manager.fileExists(atPath: path) { try manager.removeItem(atPath: path) }
        guard manager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// The free bytes on the file system holding `path`; nil when they cannot be read.
    static func freeBytes(at path: String) -> Int64? {
        let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path)
        return (attributes?[.systemFreeSize] as? NSNumber)?.int64Value
    }

    /// The last step of a successful run: removes the downloaded (or spooled) backup and any values files. A failed or
    /// interrupted run keeps its scratch folder, since `drctl resume` needs it.
    static func cleanupStep(workRoot: String, after dependencies: [StepID]) -> RunbookStep {
        RunbookStep(
            id: "scratch.cleanup",
            title: "Remove the run's scratch folder (downloaded backup, values files)",
            dependsOn: dependencies,
            commands: ["rm -r $RUN_DIR"]
        ) { context in
            let path = workRoot + "/" + context.runID
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            return ["removed": path]
        }
    }
}
