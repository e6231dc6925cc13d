import Foundation

/// Runbook "Application Rollback": `helm history` → choose the target (the last good revision before the current
/// one, or `--revision`) → optionally clear a release wedged in `pending-*` → `helm rollback --wait --timeout` →
/// `kubectl rollout status` → (with `--with-migrations`: the schema downgrade) → `/readyz`.
///
/// Every step is probed against the real release, so an interrupted rollback resumes without rolling back twice.
public struct AppRollbackScenario: Sendable {
    public static let runbookID = "rollback-app"

    public struct Options: ScenarioOptions {
        /// The revision to go back to; `nil` picks the last good revision before the current one.
        public var revision: Int?
        /// Clear a `pending-*` newest revision first (it deletes only that revision's helm record).
        public var recoverPending: Bool
        /// How long helm and `kubectl rollout status` may wait; `nil` takes the manifest's readiness timeout.
        public var timeout: Duration?
        /// Also downgrade the schema to the revision the target release expects, after the app rollback.
        public var withMigrations: Bool
        /// The schema revision the target release expects, when drctl recorded none in its helm description.
        public var migrationRevision: String?
        /// Skip the backup before a production schema downgrade.
        public var noBackup: Bool

        public init(
            revision: Int? = nil, recoverPending: Bool = false, timeout: Duration? = nil, withMigrations: Bool = false,
            migrationRevision: String? = nil, noBackup: Bool = false
        ) {
            self.revision = revision
            self.recoverPending = recoverPending
            self.timeout = timeout
            self.withMigrations = withMigrations
            self.migrationRevision = migrationRevision
            self.noBackup = noBackup
        }

        public init(legacyParameters parameters: [String: String]) {
            self.init(
                revision: parameters["revision"].flatMap { Int($0) },
                recoverPending: parameters["recoverPending"] == "true",
                timeout: parameters["timeout"].flatMap { Duration(manifestText: $0) },
                withMigrations: parameters["withMigrations"] == "true",
                migrationRevision: parameters["migrationRevision"],
                noBackup: parameters["noBackup"] == "true")
        }

        enum CodingKeys: String, CodingKey {
            case revision, recoverPending, timeout, withMigrations, migrationRevision, noBackup
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(revision, forKey: .revision)
            try container.encode(recoverPending, forKey: .recoverPending)
            try container.encodeDuration(timeout, forKey: .timeout)
            try container.encode(withMigrations, forKey: .withMigrations)
            try container.encodeIfPresent(migrationRevision, forKey: .migrationRevision)
            try container.encode(noBackup, forKey: .noBackup)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                revision: try container.decodeIfPresent(Int.self, forKey: .revision),
                recoverPending: try container.decodeIfPresent(Bool.self, forKey: .recoverPending) ?? false,
                timeout: try container.decodeDuration(forKey: .timeout),
                withMigrations: try container.decodeIfPresent(Bool.self, forKey: .withMigrations) ?? false,
                migrationRevision: try container.decodeIfPresent(String.self, forKey: .migrationRevision),
                noBackup: try container.decodeIfPresent(Bool.self, forKey: .noBackup) ?? false)
        }
    }

    public var toolbox: ScenarioToolbox
    public var options: Options

    public init(toolbox: ScenarioToolbox, options: Options = Options()) {
        self.toolbox = toolbox
        self.options = options
    }

    private var manifest: Manifest { toolbox.manifest }
    private var release: String { manifest.releases.app.release.name }
    private var timeout: Duration { options.timeout ?? manifest.readiness.timeout }

    /// The runbook; the same value drives `drctl plan rollback-app` and `drctl rollback app`.
    public func runbook(parameters: RunParameters = RunParameters()) throws -> Runbook {
        var steps = [historyStep()]
        var rollbackAfter: [StepID] = ["helm.history"]
        if options.recoverPending {
            steps.append(recoverPendingStep())
            rollbackAfter.append("helm.recover-pending")
        }
        steps.append(rollbackStep(after: rollbackAfter))
        steps.append(toolbox.rolloutStep(after: ["helm.rollback"], timeout: timeout))
        var readinessAfter: [StepID] = ["app.rollout"]
        if options.withMigrations {
            // Safe order: the previous release runs on the newer schema (migrations add before they remove), then
            // the schema goes back. Downgrading first would break the release that is still running.
            steps += try MigrationRollbackScenario.steps(
                toolbox: toolbox, target: .output(step: "helm.history", key: "migrationRevision"),
                noBackup: options.noBackup, after: ["app.rollout"], plannedTarget: options.migrationRevision)
            readinessAfter = ["alembic.verify"]
        }
        steps.append(toolbox.readinessStep(id: "app.readiness", after: readinessAfter))
        return Runbook(
            id: Self.runbookID,
            environment: manifest.environment,
            parameters: try parameters.setting(options),
            manifestFingerprint: Fingerprint.of(try manifest.canonicalEncoding()),
            rtoBudget: manifest.objectives.rto,
            steps: steps,
            manifest: manifest)
    }

    // MARK: - Steps

    private func historyStep() -> RunbookStep {
        let helm = toolbox.helm
        let history = helm.history(release: release)
        let release = self.release
        let namespace = manifest.kube.namespace
        let options = self.options
        var inputs = [
            "release": release, "namespace": namespace, "revision": options.revision.map(String.init) ?? "last good",
        ]
        if options.withMigrations { inputs["migrationRevision"] = options.migrationRevision ?? "recorded" }
        return RunbookStep(
            id: "helm.history",
            title: "Read the release history of \(release) and choose the target revision",
            inputs: inputs,
            invocations: [history]
        ) { context in
            let revisions = try await Self.readHistory(helm, release: release, namespace: namespace, context)
            let choice = try HelmRollbackTarget.choose(
                release: release, history: revisions, requested: options.revision,
                recoverPending: options.recoverPending)
            context.log(
                "current revision \(choice.current.revision) (\(choice.current.status)); target revision "
                    + "\(choice.target.revision) (\(choice.target.chart), app \(choice.target.appVersion))")
            var outputs: StepOutputs = [
                "current": String(choice.current.revision), "currentStatus": choice.current.status,
                "target": String(choice.target.revision), "targetChart": choice.target.chart,
                "targetAppVersion": choice.target.appVersion,
                "pending": choice.pending.map { String($0.revision) } ?? "",
                "pendingStatus": choice.pending?.status ?? "",
            ]
            if options.withMigrations {
                guard
                    let schema = options.migrationRevision
                        ?? HelmRollbackTarget.recordedMigrationRevision(choice.target, history: revisions)
                else {
                    throw RollbackError.noRecordedMigrationRevision(release: release, revision: choice.target.revision)
                }
                outputs["migrationRevision"] = schema
            }
            return outputs
        }
    }

    private func recoverPendingStep() -> RunbookStep {
        let helm = toolbox.helm
        let kubectl = toolbox.kubectl
        let release = self.release
        let namespace = manifest.kube.namespace
        let shown = kubectl.deleteHelmReleaseRecord(
            release: release, revision: "<pending revision>", status: "<pending status>")
        return RunbookStep(
            id: "helm.recover-pending",
            title: "Clear the wedged pending revision of \(release) (--recover-pending; only a pending-* revision)",
            dependsOn: ["helm.history"],
            destructive: true,
            inputs: ["release": release, "namespace": namespace],
            invocations: [helm.history(release: release), shown],
            probe: { context in
                let recorded = try context.outputs(of: "helm.history")
                guard let pending = Int(recorded["pending"] ?? "") else { return .done(["cleared": ""]) }
                let revisions = try await Self.readHistory(helm, release: release, namespace: namespace, context)
                guard let newest = revisions.last else { return .unknown(reason: "helm history is empty") }
                if newest.revision < pending { return .done(["cleared": String(pending)]) }
                if newest.revision == pending, newest.status.hasPrefix("pending-") { return .notDone }
                return .unknown(reason: "the newest revision is now \(newest.revision) (\(newest.status))")
            }
        ) { context in
            let recorded = try context.outputs(of: "helm.history")
            guard let pending = Int(recorded["pending"] ?? ""), let status = recorded["pendingStatus"] else {
                throw StepSkipped(reason: "the release is not pending; nothing to clear")
            }
            // Guard: act only if the newest revision is still the pending one that was read before.
            let revisions = try await Self.readHistory(helm, release: release, namespace: namespace, context)
            guard let newest = revisions.last, newest.revision == pending, newest.status == status else {
                let found = revisions.last.map { "revision \($0.revision) (\($0.status))" } ?? "no revision"
                throw RollbackError.pendingChanged(
                    release: release, expected: "revision \(pending) (\(status))", found: found)
            }
            try await PendingReleaseGuard.deleteRecord(
                of: pending, status: status, release: release, kubectl: kubectl, why: "is wedged in \(status)",
                context: context)
            let after = try await Self.readHistory(helm, release: release, namespace: namespace, context)
            guard let newestAfter = after.last, newestAfter.revision < pending else {
                throw RollbackError.pendingChanged(
                    release: release, expected: "revision \(pending) gone",
                    found: after.last.map { "revision \($0.revision) (\($0.status))" } ?? "no revision")
            }
            return ["cleared": String(pending), "status": status]
        }
    }

    /// Destructive (it replaces what runs) and probed: a rollback killed with its drctl leaves its own revision
    /// `pending-rollback` for good (`drctl resume` stops the orphaned helm before probing). The probe finds that
    /// revision by its number and description and says "not done"; the step then deletes only that record and
    /// rolls back once, into the same revision number, so the history shows one rollback.
    private func rollbackStep(after dependencies: [StepID]) -> RunbookStep {
        let helm = toolbox.helm
        let kubectl = toolbox.kubectl
        let release = self.release
        let timeout = self.timeout
        let namespace = manifest.kube.namespace
        var shown = helm.rollback(release: release, to: options.revision ?? 0, wait: true, timeout: timeout)
        if options.revision == nil, shown.arguments.count > 2 { shown.arguments[2] = "<last good revision>" }
        let clearShown = kubectl.deleteHelmReleaseRecord(
            release: release, revision: "<pending revision>", status: "pending-rollback")
        return RunbookStep(
            id: "helm.rollback",
            title: "helm rollback \(release) and wait until it is ready",
            dependsOn: dependencies,
            destructive: true,
            timeout: timeout + .seconds(60),
            inputs: ["release": release, "timeout": timeout.manifestText],
            commands: [
                helm.history(release: release).redactedCommandLine,
                "(if this run's own rollback was left pending-rollback by a killed helm) "
                    + clearShown.redactedCommandLine,
                shown.redactedCommandLine, helm.history(release: release).redactedCommandLine,
            ],
            probe: { context in
                let expected = try Self.expectation(context)
                let history = try await Self.readHistory(helm, release: release, namespace: namespace, context)
                guard let newest = history.last else { return .unknown(reason: "helm history is empty") }
                if expected.matches(newest) { return .done(expected.outputs(newest)) }
                if expected.isOwnPending(newest) || newest.revision < expected.minimumRevision
                    || newest.status == "failed"
                {
                    return .notDone
                }
                return .unknown(
                    reason: "the newest revision is \(newest.revision) (\(newest.status), \(newest.description))")
            }
        ) { context in
            let expected = try Self.expectation(context)
            if let newest = try await Self.readHistory(helm, release: release, namespace: namespace, context).last {
                if expected.matches(newest) {
                    context.log("revision \(newest.revision) is already deployed: \(newest.description)")
                    return expected.outputs(newest)
                }
                if expected.isOwnPending(newest) {
                    try await PendingReleaseGuard.deleteRecord(
                        of: newest.revision, status: newest.status, release: release, kubectl: kubectl,
                        why: "(\(newest.status), \(newest.description)) was left by this run's interrupted helm",
                        context: context)
                }
            }
            let rollback = helm.rollback(release: release, to: expected.target, wait: true, timeout: timeout)
            context.log(rollback.redactedCommandLine)
            do {
                try await context.runner.runChecked(rollback)
            } catch let failure as CommandFailure {
                throw RollbackError.helmRollbackFailed(
                    release: release, target: expected.target, detail: failure.errorDescription ?? "\(failure)")
            }
            let history = try await Self.readHistory(helm, release: release, namespace: namespace, context)
            guard let newest = history.last, expected.matches(newest) else {
                throw RollbackError.rolledBackToWrongRevision(
                    release: release, target: expected.target,
                    found: history.last.map { "revision \($0.revision) \($0.status) (\($0.description))" }
                        ?? "no revision")
            }
            context.log("revision \(newest.revision) is deployed: \(newest.description)")
            return expected.outputs(newest)
        }
    }

    // MARK: - Helpers

    /// What the release must look like once the rollback is done.
    struct Expectation {
        var target: Int
        var chart: String
        var appVersion: String
        /// The new revision helm creates is at least this (the pending record's number is reused once cleared).
        var minimumRevision: Int

        /// `helm status -o json` carries no chart, so the newest `helm history` row is what is checked.
        func matches(_ newest: HelmRevision) -> Bool {
            newest.status == "deployed" && newest.revision >= minimumRevision && newest.chart == chart
                && newest.appVersion == appVersion && newest.description == "Rollback to \(target)"
        }

        /// This run's own rollback, left `pending-rollback` by a helm that died with the drctl that started it.
        func isOwnPending(_ newest: HelmRevision) -> Bool {
            newest.status.hasPrefix("pending-") && newest.revision == minimumRevision
                && newest.description == "Rollback to \(target)"
        }

        func outputs(_ newest: HelmRevision) -> StepOutputs {
            ["revision": String(newest.revision), "rolledBackTo": String(target), "chart": chart]
        }
    }

    static func expectation(_ context: StepContext) throws -> Expectation {
        let history = try context.outputs(of: "helm.history")
        let current = try history.integer("current", from: "helm.history")
        let pendingCleared = !(history["pending"] ?? "").isEmpty
        return Expectation(
            target: try history.integer("target", from: "helm.history"),
            chart: try history.require("targetChart", from: "helm.history"),
            appVersion: history["targetAppVersion"] ?? "",
            minimumRevision: pendingCleared ? current : current + 1)
    }

    static func readHistory(_ helm: Helm, release: String, namespace: String, _ context: StepContext) async throws
        -> [HelmRevision]
    {
        let result = try await context.runner.run(helm.history(release: release))
        if result.meaning == .absent {
            throw RollbackError.releaseNotFound(release: release, namespace: namespace)
        }
        return try Helm.parseHistory(try result.checked().standardOutput)
    }
}
