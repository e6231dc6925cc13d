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

    public struct Objectives: Sendable, Hashable, Codable {
        public var rpoTargetSeconds: Double
        public var rtoTargetSeconds: Double
        /// Incident time − backup time.
        public var rpoAchievedSeconds: Double?
        /// Run end − run start, the interruption included (the outage lasts through it).
        public var rtoAchievedSeconds: Double?
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
        hypothesis = drill.hypothesis
        self.target = "\(target.environment) (\(target.source.file.written))"
        self.source = "\(source.environment) (\(source.source.file.written))"
        startedAt = history.startedAt
        endedAt = history.endedAt
        status = history.status.rawValue
        let incident = drill.incidentTime ?? history.startedAt
        incidentTime = incident
        segments = history.segments.map {
            Segment(
                kind: $0.kind.rawValue, time: $0.time, end: $0.end?.time, status: $0.end?.status.rawValue,
                reason: $0.end?.reason ?? $0.note)
        }
        steps = history.steps.map { step in
            let outputs: [String: String]
            if case .completed(let values) = step.state { outputs = values.values } else { outputs = [:] }
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
        let fetch = builtSteps.first { $0.id == "backup.fetch" }?.evidence ?? [:]
        let restored = fetch["name"]
        let takenAt = restored.flatMap(BackupName.init(fileName:))?.timestamp
        let skippedList = (fetch["skipped"] ?? "").split(separator: ";").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        backup = restored
        backupTakenAt = takenAt
        skippedBackups = skippedList

        let rpoAchieved = takenAt.map { incident.timeIntervalSince($0) }
        let rtoAchieved = history.endedAt.map { $0.timeIntervalSince(history.startedAt) }
        let rpoTarget = target.objectives.rpo.seconds
        let rtoTarget = target.objectives.rto.seconds
        objectives = Objectives(
            rpoTargetSeconds: rpoTarget, rtoTargetSeconds: rtoTarget, rpoAchievedSeconds: rpoAchieved,
            rtoAchievedSeconds: rtoAchieved, rpoMet: rpoAchieved.map { $0 < rpoTarget },
            rtoMet: rtoAchieved.map { $0 < rtoTarget })

        var faultList: [Fault] = []
        var findings: [String] = []
        if let kill = drill.faults.killAfterStep {
            let step = history.steps.first { $0.id.rawValue == kill }
            let resumed = history.segments.contains { $0.kind == .resumed }
            let accepted = step?.attempts.contains { $0.outcome == .acceptedByProbe } ?? false
            let completed = { if case .completed = step?.state { return true } else { return false } }()
            faultList.append(
                Fault(
                    fault: "run killed after the effect of step \(kill), before the journal recorded it",
                    howTheRunCoped: resumed
                        ? (accepted
                            ? "resumed; the step's probe found its effect in place and accepted it without re-running it"
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
        faults = faultList
        let succeeded = history.status == .succeeded
        if !succeeded {
            findings.append("The run did not succeed (\(history.status.rawValue)); see the failed step below.")
        }
        if rtoAchieved.map({ $0 >= rtoTarget }) == true { findings.append("RTO target missed.") }
        if rpoAchieved.map({ $0 >= rpoTarget }) == true {
            findings.append("RPO target missed: the restored backup is older than the RPO at the incident time.")
        }
        for fault in faultList where !fault.coped { findings.append("Fault not handled: \(fault.fault).") }
        if findings.isEmpty {
            findings.append(
                "No deviations: the scenario recovered within the objectives and coped with every injected fault.")
        }
        self.findings = findings
        if history.status == .running || history.status == .interrupted {
            verdict = .incomplete
        } else {
            verdict =
                succeeded && rtoAchieved.map({ $0 < rtoTarget }) == true && rpoAchieved.map({ $0 < rpoTarget }) == true
                    && faultList.allSatisfy(\.coped)
                ? .passed : .failed
        }
    }
}
