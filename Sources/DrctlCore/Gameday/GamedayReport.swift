import Foundation

/// What a game day showed, built from its journal: the figures (RPO and RTO achieved) are the journal's times, so
/// they cannot drift from what happened. Rendered as Markdown, JSON and one self-contained HTML page.
public struct GamedayReport: Sendable, Hashable, Codable {
    public var runID: String
    public var scenario: String
    public var hypothesis: String
    public var target: String
    public var source: String
    public var objectives: Objectives
    public var incidentTime: Date
    /// The restored backup and when it was taken (from its name).
    public var backup: String?
    public var backupTakenAt: Date?
    public var skippedBackups: [String]
    public var startedAt: Date
    public var endedAt: Date?
    public var status: String
    public var steps: [Step]
    public var segments: [Segment]
    public var faults: [Fault]
    public var verdict: Verdict
    public var findings: [String]
    /// The target's environment name; nil in reports written before it was recorded (`trendEnvironment` then
    /// reads it from `target`).
    public var targetEnvironment: String?
    /// RTO and RPO achieved per quarter over this and the earlier drills of the same environment (from the stored
    /// reports); nil when there are no earlier ones.
    public var trend: [Quarter]?
    /// After a failed drill: what the undos put back as the drill found it (`step: what was done`); nil when
    /// nothing needed putting back.
    public var putBack: [String]?
    /// After a failed drill: what it left changed and why (an undo that declined or failed, a change with no
    /// undo); nil when it left nothing.
    public var leftChanged: [String]?

    /// One quarter of drills of an environment: how fast the recovery was and how much data it would have lost.
    public struct Quarter: Sendable, Hashable, Codable {
        /// `2026-Q4`.
        public var quarter: String
        public var drills: Int
        /// Over the drills that succeeded (a failed drill recovered nothing).
        public var rtoBestSeconds: Double?
        public var rtoWorstSeconds: Double?
        /// Over the drills that restored data.
        public var rpoBestSeconds: Double?
        public var rpoWorstSeconds: Double?
    }

    /// The environment the trend is about.
    public var trendEnvironment: String {
        targetEnvironment ?? String(target.prefix { $0 != " " })
    }

    /// Groups `reports` (drills of one environment) by the quarter they started in, oldest first.
    public static func trend(of reports: [GamedayReport]) -> [Quarter] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let grouped = Dictionary(grouping: reports) { report in
            let parts = calendar.dateComponents([.year, .month], from: report.startedAt)
            return "\(parts.year ?? 0)-Q\(((parts.month ?? 1) - 1) / 3 + 1)"
        }
        return grouped.keys.sorted().map { key in
            let drills = grouped[key] ?? []
            let rto = drills.filter { $0.status == "succeeded" }.compactMap(\.objectives.rtoAchievedSeconds)
            let rpo = drills.filter { $0.objectives.rpoApplies != false }.compactMap(\.objectives.rpoAchievedSeconds)
            return Quarter(
                quarter: key, drills: drills.count, rtoBestSeconds: rto.min(), rtoWorstSeconds: rto.max(),
                rpoBestSeconds: rpo.min(), rpoWorstSeconds: rpo.max())
        }
    }

    public struct Objectives: Sendable, Hashable, Codable {
        public var rpoTargetSeconds: Double
        public var rtoTargetSeconds: Double
        /// Incident time − backup time.
        public var rpoAchievedSeconds: Double?
        /// Run end − run start (or − the end of the incident the drill caused), the interruption included (the
        /// outage lasts through it).
        public var rtoAchievedSeconds: Double?
        /// Where the RTO clock starts: `run start`, or `incident (drill.incident done)` for drills that cause
        /// their incident. nil in reports written before it existed (run start).
        public var rtoMeasuredFrom: String?
        /// False when the scenario restores no data (app-rollback): there is no RPO to meet.
        public var rpoApplies: Bool?
        public var rpoMet: Bool?
        public var rtoMet: Bool?
    }

    public struct Step: Sendable, Hashable, Codable {
        public var id: String
        public var title: String
        public var commands: [String]
        public var attempts: [Attempt]
        public var evidence: [String: String]
    }

    public struct Attempt: Sendable, Hashable, Codable {
        public var number: Int
        public var startedAt: Date?
        public var endedAt: Date?
        public var durationSeconds: Double?
        /// completed, skipped, failed, never-completed, accepted-by-probe.
        public var outcome: String
        /// 0 for a completed step; the failure text otherwise (it holds the exit status).
        public var exit: String
        public var note: String?
    }

    public struct Segment: Sendable, Hashable, Codable {
        public var kind: String
        public var time: Date
        public var end: Date?
        public var status: String?
        public var reason: String?
    }

    public struct Fault: Sendable, Hashable, Codable {
        public var fault: String
        public var howTheRunCoped: String
        public var coped: Bool
    }

    public enum Verdict: String, Sendable, Hashable, Codable {
        case passed = "PASSED"
        case failed = "FAILED"
        case incomplete = "INCOMPLETE"
    }
}

extension GamedayReport {
    /// Builds the report of `history` (a `gameday` run), with the command lines of `runbook`'s steps.
    public init(
        history: RunHistory, drill: DrillScript, target: Manifest, source: Manifest, commands: [StepID: [String]]
    ) {
        runID = history.header.runID
        scenario = drill.scenario.rawValue
        hypothesis = drill.hypothesis(objectives: target.objectives)
        self.target = "\(target.environment) (\(target.source.file.written))"
        targetEnvironment = target.environment
        self.source = "\(source.environment) (\(source.source.file.written))"
        startedAt = history.startedAt
        endedAt = history.endedAt
        status = history.status.rawValue
        let incident =
            drill.incidentTime
            ?? (try? history.header.parameters.options(GamedayScenario.Options.self))?.incidentTime
            ?? history.startedAt
        incidentTime = incident
        segments = history.segments.map {
            Segment(
                kind: $0.kind.rawValue, time: $0.time, end: $0.end?.time, status: $0.end?.status.rawValue,
                reason: $0.end?.reason ?? $0.note)
        }
        steps = history.steps.map { step in
            let outputs: [String: String]
            switch step.state {
            case .completed(let values): outputs = values.values
            case .undone:
                // What the step did before a failure later in the run undid it.
                outputs =
                    step.attempts.last { $0.outcome == .completed || $0.outcome == .acceptedByProbe }?.outputs?.values
                    ?? [:]
            default: outputs = [:]
            }
            return Step(
                id: step.id.rawValue, title: step.title, commands: commands[step.id] ?? [],
                attempts: step.attempts.map { attempt in
                    Attempt(
                        number: attempt.number, startedAt: attempt.startedAt, endedAt: attempt.endedAt,
                        durationSeconds: attempt.duration, outcome: attempt.outcome.rawValue,
                        exit: attempt.outcome == .failed
                            ? (attempt.error ?? "failed") : (attempt.outcome == .inDoubt ? "-" : "0"),
                        note: attempt.note)
                },
                evidence: outputs)
        }
        let builtSteps = steps
        let fetch =
            builtSteps.first { ["backup.fetch", "backup.verify"].contains($0.id) && !$0.evidence.isEmpty }?.evidence
            ?? [:]
        let restored = fetch["name"]
        let takenAt = restored.flatMap(BackupName.init(fileName:))?.timestamp
        let skippedList = (fetch["skipped"] ?? "").split(separator: ";").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        backup = restored
        backupTakenAt = takenAt
        skippedBackups = skippedList

        let rpoApplies = drill.scenario != .appRollback
        let rpoAchieved = takenAt.map { incident.timeIntervalSince($0) }
        let incidentStep = history.steps.first { $0.id == GamedayScenario.incidentStepID }
        let incidentDone: Date? = {
            guard case .completed = incidentStep?.state else { return nil }
            return incidentStep?.attempts.last?.endedAt
        }()
        let rtoStart = incidentDone ?? history.startedAt
        let rtoAchieved = history.endedAt.map { $0.timeIntervalSince(rtoStart) }
        let rpoTarget = target.objectives.rpo.seconds
        let rtoTarget = target.objectives.rto.seconds
        objectives = Objectives(
            rpoTargetSeconds: rpoTarget, rtoTargetSeconds: rtoTarget, rpoAchievedSeconds: rpoAchieved,
            rtoAchievedSeconds: rtoAchieved,
            rtoMeasuredFrom: incidentDone == nil ? "run start" : "end of the incident the drill caused",
            rpoApplies: rpoApplies, rpoMet: rpoAchieved.map { $0 < rpoTarget },
            rtoMet: rtoAchieved.map { $0 < rtoTarget })

        var faultList: [Fault] = []
        var findings: [String] = []
        if let kill = drill.faults.killAfterStep {
            let step = history.steps.first { $0.id.rawValue == kill }
            let resumed = history.segments.contains { $0.kind == .resumed }
            let accepted = step?.attempts.contains { $0.outcome == .acceptedByProbe } ?? false
            let completed = { if case .completed = step?.state { return true } else { return false } }()
            // A SIGKILLed process leaves its segment without an end record; an in-process stop records one.
            let signalled = history.segments.first.map { $0.end == nil } ?? false
            faultList.append(
                Fault(
                    fault: signalled
                        ? "drctl killed with SIGKILL after the effect of step \(kill), before the journal recorded it"
                        : "run stopped after the effect of step \(kill), before the journal recorded it",
                    howTheRunCoped: resumed
                        ? (accepted
                            ? "resumed (drctl resume); the step's probe found its effect in place and accepted it without re-running it"
                            : (completed
                                ? "resumed; the step ran again and completed"
                                : "resumed, but the step did not complete"))
                        : "the run was not resumed",
                    coped: resumed && completed))
        }
        if drill.faults.corruptNewestBackup {
            let injected = builtSteps.first { $0.id == "fault.corrupt-backup" }?.evidence["name"]
            let skipped = injected.map { name in skippedList.contains { $0.hasPrefix(name) } } ?? false
            faultList.append(
                Fault(
                    fault: "corrupt backup \(injected ?? "?") newer than every real one, in the off-site store",
                    howTheRunCoped: skipped
                        ? "the fetch refused it (\(skippedList.first { $0.hasPrefix(injected ?? "") } ?? "")) and restored \(restored ?? "?")"
                        : "the fetch did not report skipping it",
                    coped: skipped && restored != injected))
        }
        let failedStep = history.steps.first { step in step.attempts.last?.outcome == .failed }
        let failure = failedStep.map { step in
            "the run stopped at step \(step.id): \(step.attempts.last?.error ?? "failed")"
        }
        if drill.faults.deploymentNeverReady {
            let broken = builtSteps.first { $0.id == "fault.deployment-never-ready" }?.evidence
            let what =
                broken.map { "deployment \($0["deployment"] ?? "?") set to image \($0["image"] ?? "?")" }
                ?? "the deployment's image (the fault step did not complete)"
            faultList.append(
                Fault(
                    fault: "app deployment never ready: \(what)",
                    howTheRunCoped: succeeded(history)
                        ? "the run completed anyway: the deployment became ready (check the fault took effect)"
                        : (failure.map {
                            "\($0). The \(drill.scenario.rawValue) runbook has no remedy for a failed rollout: it fails "
                                + "with the rollout's message instead of hanging; a human rolls the app back "
                                + "(drctl rollback app) or fixes the image, then runs drctl resume \(history.header.runID)"
                                + (history.steps.first { $0.id == "fault.deployment-never-ready" }?.undo.map {
                                    ". After the failure the drill's undo: \($0)"
                                } ?? "")
                        } ?? "the run did not finish (\(history.status.rawValue))"),
                    coped: succeeded(history)))
        }
        if let step = incidentStep {
            let evidence = builtSteps.first { $0.id == step.id.rawValue }?.evidence ?? [:]
            switch drill.scenario {
            case .rowRecovery:
                let back = builtSteps.first { $0.id == "smoke.1" }?.evidence["value"]
                let expected = drill.rows.map { String($0.ids.count) }
                faultList.append(
                    Fault(
                        fault: "incident: \(evidence["deleted"] ?? "?") row(s) of \(evidence["table"] ?? "?") deleted "
                            + "(\(drill.rows?.key ?? "key") in \(evidence["ids"] ?? "?"))",
                        howTheRunCoped: back != nil && back == expected
                            ? "recovered from \(restored ?? "?"): all \(back ?? "?") rows are back"
                            : (failure ?? "the rows were not proven back"),
                        coped: back != nil && back == expected))
            case .appRollback:
                let rollback = builtSteps.first { $0.id == "helm.rollback" }?.evidence ?? [:]
                let ready = builtSteps.first { $0.id == "app.readiness" }?.evidence["status"]
                let coped = rollback["revision"] != nil && ready != nil
                faultList.append(
                    Fault(
                        fault: "incident: bad release revision \(evidence["revision"] ?? "?") "
                            + "(\(evidence["set"] ?? drill.badRelease.set.joined(separator: ", "))) never became "
                            + "ready (helm: \(evidence["status"] ?? "?"))",
                        howTheRunCoped: coped
                            ? "rolled back to revision \(rollback["rolledBackTo"] ?? "?") (new revision "
                                + "\(rollback["revision"] ?? "?")); readiness answered \(ready ?? "?")"
                            : (failure ?? "the rollback did not complete"),
                        coped: coped))
            case .clusterLoss, .dbRestore:
                break
            }
        }
        faults = faultList
        let (back, left) = Self.aftermath(of: history)
        putBack = back.isEmpty ? nil : back
        leftChanged = left.isEmpty ? nil : left
        let succeeded = history.status == .succeeded
        if !succeeded {
            findings.append("The run did not succeed (\(history.status.rawValue)); see the failed step below.")
        }
        if rtoAchieved.map({ $0 >= rtoTarget }) == true { findings.append("RTO target missed.") }
        if rpoApplies, rpoAchieved.map({ $0 >= rpoTarget }) == true {
            findings.append("RPO target missed: the restored backup is older than the RPO at the incident time.")
        }
        if !rpoApplies {
            findings.append("RPO not applicable: an app rollback restores no data.")
        }
        for fault in faultList where !fault.coped { findings.append("Fault not handled: \(fault.fault).") }
        if !back.isEmpty {
            findings.append(
                "After the failure the drill put back what it had changed: \(back.joined(separator: "; ")).")
        }
        if !left.isEmpty {
            findings.append("The drill left the target changed: \(left.joined(separator: "; ")).")
        }
        if findings.isEmpty || findings == ["RPO not applicable: an app rollback restores no data."] {
            findings.append(
                "No deviations: the scenario recovered within the objectives and coped with every injected fault.")
        }
        self.findings = findings
        if history.status == .running || history.status == .interrupted {
            verdict = .incomplete
        } else {
            let rpoMet = !rpoApplies || rpoAchieved.map({ $0 < rpoTarget }) == true
            verdict =
                succeeded && rtoAchieved.map({ $0 < rtoTarget }) == true && rpoMet && faultList.allSatisfy(\.coped)
                ? .passed : .failed
        }
    }
}

extension GamedayReport {
    /// What a failed drill's undos put back (journaled `step-undone`) and what it left changed: an undo that
    /// declined or failed (`step-not-undone`, with why), and, the run having failed, a completed destructive step
    /// that declares no undo.
    static func aftermath(of history: RunHistory) -> (putBack: [String], left: [String]) {
        guard history.status == .failed else { return ([], []) }
        var back: [String] = []
        var left: [String] = []
        for step in history.steps {
            switch step.state {
            case .undone(let message):
                back.append("\(step.id): \(step.undo ?? message)")
            case .completed:
                if let undo = step.undo {
                    left.append("\(step.id): not undone: \(undo)")
                } else if step.destructive {
                    left.append("\(step.id): \(step.title) (it declares no undo)")
                }
            default:
                break
            }
        }
        return (back, left)
    }
}

private func succeeded(_ history: RunHistory) -> Bool { history.status == .succeeded }
