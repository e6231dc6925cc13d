import Foundation

/// Runbook "Database Migration Rollback": `alembic current`/`heads`/`history` → choose the target (refusing at
/// base, with several heads, or when the database holds a revision the scripts do not know) → a backup before a
/// production downgrade → `alembic downgrade TARGET` → `alembic current` must equal the target.
///
/// The target is resolved to an absolute revision before the downgrade runs, so a resumed run never goes back
/// further than the first attempt would have.
public struct MigrationRollbackScenario: Sendable {
    public static let runbookID = "rollback-migration"

    public struct Options: ScenarioOptions {
        public var request: MigrationRollbackRequest
        /// Skip the backup a production downgrade otherwise takes first.
        public var noBackup: Bool

        public init(request: MigrationRollbackRequest = .steps(1), noBackup: Bool = false) {
            self.request = request
            self.noBackup = noBackup
        }

        public init(legacyParameters parameters: [String: String]) {
            self.init(
                request: parameters["target"].flatMap(MigrationRollbackRequest.init(parameter:)) ?? .steps(1),
                noBackup: parameters["noBackup"] == "true")
        }

        enum CodingKeys: String, CodingKey { case target, noBackup }

        /// The target as `steps:1` or `to:0002`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(request.parameter, forKey: .target)
            try container.encode(noBackup, forKey: .noBackup)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let target = try container.decode(String.self, forKey: .target)
            guard let request = MigrationRollbackRequest(parameter: target) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .target, in: container, debugDescription: "'\(target)' is not steps:N or to:REVISION")
            }
            self.init(request: request, noBackup: try container.decodeIfPresent(Bool.self, forKey: .noBackup) ?? false)
        }
    }

    public var toolbox: ScenarioToolbox
    public var options: Options

    public init(toolbox: ScenarioToolbox, options: Options = Options()) {
        self.toolbox = toolbox
        self.options = options
    }

    /// The runbook; the same value drives `drctl plan rollback-migration` and `drctl rollback migration`.
    /// - Throws: `RollbackError.migrationsNotConfigured` when the manifest has no `migrations:` section.
    public func runbook(parameters: RunParameters = RunParameters()) throws -> Runbook {
        let manifest = toolbox.manifest
        return Runbook(
            id: Self.runbookID,
            environment: manifest.environment,
            parameters: try parameters.setting(options),
            manifestFingerprint: Fingerprint.of(try manifest.canonicalEncoding()),
            rtoBudget: manifest.objectives.rto,
            steps: try Self.steps(
                toolbox: toolbox, target: .request(options.request), noBackup: options.noBackup, after: []),
            manifest: manifest)
    }

    /// Where the schema steps take their target from.
    enum TargetSource: Sendable, Hashable {
        case request(MigrationRollbackRequest)
        /// The revision another step recorded (the target release's expected schema); already being there is fine.
        case output(step: StepID, key: String)
    }

    /// Whether a downgrade in this environment takes a backup first.
    static func needsBackup(_ manifest: Manifest, noBackup: Bool) -> Bool {
        !noBackup && manifest.environment == "production"
    }

    /// The schema steps, also used by `rollback app --with-migrations` after the application rollback.
    /// - Parameter plannedTarget: what `plan` shows for a target another step records at run time, when known.
    static func steps(
        toolbox: ScenarioToolbox, target: TargetSource, noBackup: Bool, after dependencies: [StepID],
        plannedTarget: String? = nil
    ) throws -> [RunbookStep] {
        let manifest = toolbox.manifest
        guard let alembic = toolbox.alembic else {
            throw RollbackError.migrationsNotConfigured(manifest: manifest.source.file.written)
        }
        var steps = [inspectStep(alembic, database: manifest.database.name, target: target, after: dependencies)]
        var downgradeAfter: [StepID] = ["alembic.inspect"]
        if needsBackup(manifest, noBackup: noBackup) {
            steps.append(backupStep(toolbox))
            downgradeAfter.append("database.backup")
        }
        let shownTarget: String
        switch target {
        case .request(.revision(let id)): shownTarget = id
        case .request(.steps(let count)): shownTarget = "<\(count) below current>"
        case .output(let step, let key): shownTarget = plannedTarget ?? "<\(key) from \(step)>"
        }
        steps.append(downgradeStep(alembic, shownTarget: shownTarget, after: downgradeAfter))
        steps.append(verifyStep(alembic))
        return steps
    }

    // MARK: - Steps

    private static func inspectStep(
        _ alembic: Alembic, database: String, target: TargetSource, after dependencies: [StepID]
    ) -> RunbookStep {
        var inputs = ["database": database]
        switch target {
        case .request(let request): inputs["target"] = request.parameter
        case .output(let step, let key): inputs["target"] = "from \(step) \(key)"
        }
        return RunbookStep(
            id: "alembic.inspect",
            title: "Read alembic current, heads and history; choose the target revision",
            dependsOn: dependencies,
            inputs: inputs,
            invocations: [alembic.current(), alembic.heads(), alembic.history()]
        ) { context in
            let current: [AlembicRevision]
            do {
                current = try Alembic.parseCurrent(try await runAlembic(alembic.current(), context))
            } catch AlembicError.alembicFailed(_, let message) where message.contains("Can't locate revision") {
                throw RollbackError.unknownDatabaseRevision(database: database, alembicMessage: message)
            }
            let heads = try Alembic.parseRevisions(try await runAlembic(alembic.heads(), context))
            let history = try Alembic.parseHistory(try await runAlembic(alembic.history(), context))
            let request: MigrationRollbackRequest
            let allowNoop: Bool
            switch target {
            case .request(let wanted):
                request = wanted
                allowNoop = false
            case .output(let step, let key):
                request = .revision(try context.outputs(of: step).require(key, from: step))
                allowNoop = true
            }
            let chosen = try AlembicRollbackTarget.choose(
                database: database, current: current, heads: heads, history: history, request: request,
                allowNoop: allowNoop)
            context.log(
                chosen.undone.isEmpty
                    ? "the schema is already at \(chosen.target)"
                    : "\(chosen.current) → \(chosen.target) (undoes \(chosen.undone.joined(separator: ", ")))")
            return [
                "current": chosen.current, "target": chosen.target, "undone": chosen.undone.joined(separator: ","),
                "heads": heads.map(\.id).joined(separator: ","),
            ]
        }
    }

    private static func backupStep(_ toolbox: ScenarioToolbox) -> RunbookStep {
        let manifest = toolbox.manifest
        let creator = BackupCreator(toolbox: toolbox)
        let shown = creator.pipeline(partialPath: creator.plannedPartialPath)
        return RunbookStep(
            id: "database.backup",
            title: "Back up \(manifest.database.name) before the downgrade (production; --no-backup skips this)",
            dependsOn: ["alembic.inspect"],
            inputs: ["database": manifest.database.name, "folder": manifest.backups.local.written],
            commands: [shown.redactedCommandLine]
        ) { context in
            let creation = try await BackupCreator(toolbox: toolbox, runner: context.runner, clock: context.clock)
                .create()
            context.log("backup \(creation.path) (sha256 \(creation.daily.sha256.prefix(12)))")
            return ["backup": creation.path, "sha256": creation.daily.sha256]
        }
    }

    private static func downgradeStep(_ alembic: Alembic, shownTarget: String, after dependencies: [StepID])
        -> RunbookStep
    {
        RunbookStep(
            id: "alembic.downgrade",
            title: "alembic downgrade to the chosen revision",
            dependsOn: dependencies,
            destructive: true,
            invocations: [alembic.downgrade(.revision(shownTarget))],
            probe: { context in
                let inspect = try context.outputs(of: "alembic.inspect")
                let from = try inspect.require("current", from: "alembic.inspect")
                let target = try inspect.require("target", from: "alembic.inspect")
                let now = try await currentRevision(alembic, context)
                if now == target { return .done(["from": from, "to": target]) }
                if now == from { return .notDone }
                return .unknown(reason: "alembic current reports \(now), neither \(from) nor the target \(target)")
            }
        ) { context in
            let inspect = try context.outputs(of: "alembic.inspect")
            let from = try inspect.require("current", from: "alembic.inspect")
            let target = try inspect.require("target", from: "alembic.inspect")
            guard from != target else { throw StepSkipped(reason: "the schema is already at \(target)") }
            let downgrade = alembic.downgrade(
                target == AlembicRollbackTarget.base ? .base : .revision(target))
            context.log(downgrade.redactedCommandLine)
            let result = try await context.runner.run(downgrade)
            if let failure = Alembic.classifyFailure(result) {
                let now =
                    (try? await currentRevision(alembic, context)) ?? "an unknown revision (alembic current failed)"
                throw RollbackError.downgradeFailed(
                    from: from, to: target, databaseNowAt: now, detail: failure.errorDescription ?? "\(failure)")
            }
            return ["from": from, "to": target]
        }
    }

    private static func verifyStep(_ alembic: Alembic) -> RunbookStep {
        RunbookStep(
            id: "alembic.verify",
            title: "Check that alembic current is the target revision",
            dependsOn: ["alembic.downgrade"],
            invocations: [alembic.current()]
        ) { context in
            let target = try context.outputs(of: "alembic.inspect").require("target", from: "alembic.inspect")
            let now = try await currentRevision(alembic, context)
            guard now == target else { throw RollbackError.verifyMismatch(expected: target, actual: now) }
            context.log("alembic current: \(now)")
            return ["current": now]
        }
    }

    // MARK: - Helpers

    /// Runs an alembic command; a failure becomes the classified `AlembicError` (alembic's own message).
    static func runAlembic(_ invocation: CommandInvocation, _ context: StepContext) async throws -> String {
        let result = try await context.runner.run(invocation)
        if let failure = Alembic.classifyFailure(result) { throw failure }
        return result.output
    }

    /// `alembic current` as one id: `base` when nothing is applied.
    static func currentRevision(_ alembic: Alembic, _ context: StepContext) async throws -> String {
        let revisions = try Alembic.parseCurrent(try await runAlembic(alembic.current(), context))
        return revisions.map(\.id).joined(separator: ",").isEmpty
            ? AlembicRollbackTarget.base : revisions.map(\.id).joined(separator: ",")
    }
}
