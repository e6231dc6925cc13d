import Foundation

/// Refuses to create a new database that would not fit: the free space where PostgreSQL keeps its data must be
/// at least the compressed backup's size times `factor` (a SQL dump compresses several times; indexes are
/// rebuilt on top). When the free space cannot be measured (a remote server) the check says so and passes.
public struct DatabaseSpaceCheck: Sendable {
    /// Free bytes and where they were measured; nil when that cannot be known from here.
    public typealias FreeSpace = @Sendable (_ context: StepContext) async throws -> (bytes: Int64, location: String)?

    public var factor: Int64
    public var freeSpace: FreeSpace

    public init(factor: Int64 = 6, freeSpace: @escaping FreeSpace) {
        self.factor = factor
        self.freeSpace = freeSpace
    }

    /// The live measure: PostgreSQL's `data_directory` (readable by superusers and `pg_read_all_settings`),
    /// measured with statvfs when that folder is on this machine.
    public static func live(postgres: Postgres) -> FreeSpace {
        let query = postgres.adminQuery("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        return { context in
            let result = try await context.runner.run(query)
            guard result.succeeded, let directory = Postgres.parseValue(result.output),
                !directory.isEmpty,
                let attributes = try? FileManager.default.attributesOfFileSystem(forPath: directory),
                let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value
            else { return nil }
            return (free, directory)
        }
    }

    public var plannedLine: String { "free space where PostgreSQL keeps its data ≥ \(factor) × the backup's size" }

    public func check(backupSize: Int64, context: StepContext) async throws -> StepOutputs {
        let needed = backupSize * factor
        guard let (free, location) = try await freeSpace(context) else {
            context.log(
                "cannot measure the database server's free space from here; make sure about"
                    + " \(ByteSize(bytes: needed)) are free for the new database")
            return ["needed": String(needed), "free": "unknown"]
        }
        guard free >= needed else {
            throw RecoveryError.notEnoughDisk(needed: needed, available: free, location: location)
        }
        return ["needed": String(needed), "free": String(free), "location": location]
    }

    /// Checks that PostgreSQL answers (an unreachable server stops the run before anything is changed) and has
    /// room for `what`, sized from `backup.verify`'s `size` output.
    public func step(toolbox: ScenarioToolbox, what: String) -> RunbookStep {
        let ping = toolbox.postgres.adminQuery("SELECT 1")
        return RunbookStep(
            id: "database.space",
            title: "Check that PostgreSQL answers and has room for \(what)",
            dependsOn: ["backup.verify"],
            commands: [ping.redactedCommandLine, plannedLine]
        ) { context in
            try await context.runner.runChecked(ping)
            let backup = try context.outputs(of: "backup.verify")
            if backup["spaceChecked"] == "yes" {
                // Checked before the load; measured now, the loaded database's own size would count against it.
                var outputs = StepOutputs()
                for (key, value) in backup.values where key.hasPrefix("space.") {
                    outputs[String(key.dropFirst("space.".count))] = value
                }
                outputs["checked"] = "before the load, by backup.verify"
                return outputs
            }
            return try await check(backupSize: Int64(backup["size"] ?? "") ?? 0, context: context)
        }
    }
}
