import Foundation

/// The runbook's quarterly DR test as a run: the drill's scenario against the target (staging) from the source's
/// (production's) backups, with the drill's faults injected and its smoke checks as steps. Journaled under the
/// runbook id `gameday` like any scenario, so it resumes, is bounded by the RTO budget, and `drctl status` finds it.
public struct GamedayScenario: Sendable {
    public static let runbookID = StatusService.drillRunbookID
    static let cleanupStepID: StepID = "scratch.cleanup"

    /// The target's toolbox (its cluster, database, password).
    public var target: ScenarioToolbox
    /// The environment whose backups are restored.
    public var source: Manifest
    public var drill: DrillScript
    public var workRoot: String
    public var releaseTimeout: Duration

    public init(
        target: ScenarioToolbox, source: Manifest, drill: DrillScript, workRoot: String,
        releaseTimeout: Duration = .seconds(600)
    ) {
        self.target = target
        self.source = source
        self.drill = drill
        self.workRoot = workRoot
        self.releaseTimeout = releaseTimeout
    }

    /// The toolbox the recovery runs with: the target's cluster and database, the source's backup locations.
    public var drillToolbox: ScenarioToolbox {
        var manifest = target.manifest
        manifest.backups = source.backups
        return ScenarioToolbox(
            manifest: manifest, databasePassword: target.databasePassword,
            helmMajorVersion: target.helm.majorVersion, executables: target.executables)
    }

    public func runbook(parameters: [String: String]) throws -> Runbook {
        let toolbox = drillToolbox
        var inner: Runbook
        switch drill.scenario {
        case .clusterLoss:
            inner = try RebuildScenario(
                toolbox: toolbox,
                options: RebuildScenario.Options(releaseTimeout: releaseTimeout, backupDatabase: source.database.name),
                workRoot: workRoot
            ).runbook()
        case .dbRestore, .rowRecovery, .appRollback:
            throw DrctlError.notYetImplemented(
                feature: "drctl gameday --scenario \(drill.scenario.rawValue) "
                    + "(only cluster-loss is wired into drills so far)",
                issue: 8)
        }
        var steps = inner.steps
        if drill.faults.corruptNewestBackup {
            steps = try injectCorruptBackup(into: steps, toolbox: toolbox)
        }
        if let kill = drill.faults.killAfterStep {
            guard let index = steps.firstIndex(where: { $0.id.rawValue == kill }) else {
                throw GamedayError.faultNotPossible(
                    fault: "killAfterStep: \(kill)",
                    reason: "the \(drill.scenario.rawValue) runbook has no step \(kill); its steps: "
                        + steps.map(\.id.rawValue).joined(separator: ", "))
            }
            steps[index] = killedAfterEffect(steps[index])
        }
        let cleanupIndex = steps.firstIndex { $0.id == Self.cleanupStepID } ?? steps.endIndex
        var smokeIDs: [StepID] = []
        for (number, check) in drill.smokeChecks.enumerated() {
            let step = smokeStep(check, number: number + 1, toolbox: toolbox)
            smokeIDs.append(step.id)
            steps.insert(step, at: cleanupIndex + number)
        }
        if let cleanup = steps.firstIndex(where: { $0.id == Self.cleanupStepID }) {
            steps[cleanup].dependsOn += smokeIDs
        }
        var merged = parameters
        merged["scenario"] = drill.scenario.rawValue
        return Runbook(
            id: Self.runbookID, environment: target.manifest.environment, parameters: merged,
            manifestFingerprint: Fingerprint.of(
                inner.manifestFingerprint + Fingerprint.of(try source.canonicalEncoding())),
            rtoBudget: inner.rtoBudget, steps: steps)
    }

    // MARK: - Faults

    /// A step that does its work, then stops the run before the completion is journaled, once per run: what a
    /// kill between the effect and the journal looks like. The resume must find the effect with its probe.
    private func killedAfterEffect(_ step: RunbookStep) -> RunbookStep {
        var step = step
        let action = step.action
        let workRoot = self.workRoot
        let stepID = step.id
        step.action = { context in
            let outputs = try await action(context)
            let marker =
                try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "faults")
                + "/killed-\(stepID.rawValue)"
            if !FileManager.default.fileExists(atPath: marker) {
                FileManager.default.createFile(atPath: marker, contents: Data())
                context.log("FAULT INJECTED: the run is stopped after the effect of \(stepID), before it is journaled")
                throw CancellationError()
            }
            return outputs
        }
        return step
    }

    /// Uploads a corrupt `<db>_backup_<now>.sql.gz` (with a sidecar naming its checksum, so only the gzip test can
    /// catch it) before the fetch; the fetch must skip it. Removed again once the fetch is done.
    private func injectCorruptBackup(into steps: [RunbookStep], toolbox: ScenarioToolbox) throws -> [RunbookStep] {
        guard steps.contains(where: { $0.id == "backup.fetch" }) else {
            throw GamedayError.faultNotPossible(
                fault: "corruptNewestBackup", reason: "the \(drill.scenario.rawValue) runbook fetches no backup")
        }
        guard source.environment.lowercased() != "production" else {
            throw GamedayError.faultNotPossible(
                fault: "corruptNewestBackup",
                reason: "it writes an object into the --from backup store, and that is production's; drill with a "
                    + "copy of production's backups (another manifest) to inject it")
        }
        let fetcher = OffsiteBackupFetcher(toolbox: toolbox, workRoot: workRoot)
        let (store, prefix) = try fetcher.location()
        let database = source.database.name
        let workRoot = self.workRoot
        let inject = RunbookStep(
            id: "fault.corrupt-backup",
            title: "FAULT: put a corrupt backup newer than every real one into \(store.displayName)/\(prefix)",
            inputs: ["store": store.displayName, "prefix": prefix],
            commands: [
                "upload <corrupt \(database)_backup_<now>.sql.gz> and its .sha256 to \(store.displayName)/\(prefix)daily/"
            ]
        ) { context in
            let name = try BackupName(database: database, timestamp: context.clock.now()).fileName
            let key = OffsiteTarget.join(prefix, "daily/" + name)
            let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "faults")
            let file = folder + "/" + name
            var bytes = Data([0x1f, 0x8b, 0x08, 0x00])
            bytes.append(Data(repeating: 0x5a, count: 64 * 1024))
            try bytes.write(to: URL(fileURLWithPath: file))
            let sidecar = file + ".sha256"
            try Data("\(SHA256Checksum.of(bytes))  \(name)\n".utf8).write(to: URL(fileURLWithPath: sidecar))
            try await context.runner.runChecked(try store.upload(.file(file), to: key))
            try await context.runner.runChecked(
                try store.upload(.file(sidecar), to: OffsiteTarget.sidecarKey(for: key)))
            return ["key": key, "name": name, "sha256": SHA256Checksum.of(bytes)]
        }
        let remove = RunbookStep(
            id: "fault.remove-corrupt-backup",
            title: "Remove the injected corrupt backup from the off-site store",
            dependsOn: ["backup.fetch", "fault.corrupt-backup"],
            commands: ["delete the injected object and its .sha256"]
        ) { context in
            let key = try context.outputs(of: "fault.corrupt-backup").require("key", from: "fault.corrupt-backup")
            try await context.runner.runChecked(store.delete(key))
            try await context.runner.runChecked(store.delete(OffsiteTarget.sidecarKey(for: key)))
            return ["removed": key]
        }
        var result: [RunbookStep] = [inject]
        for var step in steps {
            if step.id == "backup.fetch" { step.dependsOn.append("fault.corrupt-backup") }
            if step.id == Self.cleanupStepID { step.dependsOn.append("fault.remove-corrupt-backup") }
            result.append(step)
            if step.id == "backup.fetch" { result.append(remove) }
        }
        return result
    }

    // MARK: - Smoke checks

    private func smokeStep(_ check: DrillScript.SmokeCheck, number: Int, toolbox: ScenarioToolbox) -> RunbookStep {
        let id = StepID("smoke.\(number)")
        switch check.kind {
        case .sql(let query, let expect):
            let invocation = toolbox.postgres.query(query)
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): \(query)", dependsOn: ["readiness"],
                inputs: ["sql": query, "expect": expect ?? ""], invocations: [invocation]
            ) { context in
                let result = try await context.runner.runChecked(invocation)
                let value = Postgres.parseValue(result.output) ?? ""
                if let expect, value != expect {
                    throw GamedayError.smokeCheckFailed(
                        name: check.name, detail: "\(query) returned '\(value)', expected '\(expect)'")
                }
                return ["check": check.name, "value": value, "expected": expect ?? "(any)"]
            }
        case .http(let url, let expectStatus):
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): GET \(url)", dependsOn: ["readiness"],
                inputs: ["url": url, "expectStatus": String(expectStatus)], commands: ["GET \(url)"]
            ) { context in
                guard let parsed = URL(string: url) else {
                    throw GamedayError.smokeCheckFailed(name: check.name, detail: "\(url) is not a URL")
                }
                let response = try await ReadinessProbe.urlSessionFetch(parsed, .seconds(10))
                let body = String(decoding: response.body.prefix(200), as: UTF8.self)
                guard response.statusCode == expectStatus else {
                    throw GamedayError.smokeCheckFailed(
                        name: check.name,
                        detail: "GET \(url) answered \(response.statusCode) (\(body)), expected \(expectStatus)")
                }
                return ["check": check.name, "status": String(response.statusCode), "body": body]
            }
        case .command(let argv):
            let invocation = CommandInvocation(argv[0], Array(argv.dropFirst()), secrets: toolbox.secrets)
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): \(invocation.redactedCommandLine)", dependsOn: ["readiness"],
                inputs: ["command": invocation.redactedCommandLine], invocations: [invocation]
            ) { context in
                let result = try await context.runner.runChecked(invocation)
                return ["check": check.name, "exit": "0", "output": String(result.output.suffix(200))]
            }
        }
    }
}
