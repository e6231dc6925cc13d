import Foundation

/// Checks the runbook's checklist against the real state: the local backup catalog, the off-site stores (listing
/// and `.sha256` sidecars, read only), the journal of game-day runs and the manifest's review date.
///
/// Checklist lines that cannot be checked by a program ("Team trained on procedures", "Contact list up-to-date")
/// are left to people and not reported.
public struct StatusService: Sendable {
    /// The runbook id game days are journaled under; a succeeded one counts as "Restore tested quarterly".
    public static let drillRunbookID = "gameday"

    public var toolbox: ScenarioToolbox
    /// The journaled runs; nil when the state folder cannot be read (the drill check then fails and says so).
    public var runs: RunCatalog?
    public var runner: any CommandRunning
    public var clock: any RunClock
    /// How often a restore must be rehearsed (the checklist: quarterly).
    public var drillInterval: Duration
    /// Where sidecars are downloaded to be read.
    public var scratchDirectory: String

    public init(
        toolbox: ScenarioToolbox,
        runs: RunCatalog?,
        runner: any CommandRunning = CommandRunner(),
        clock: any RunClock = .system,
        drillInterval: Duration = .seconds(92 * 86_400),
        scratchDirectory: String = FileManager.default.temporaryDirectory.path
    ) {
        self.toolbox = toolbox
        self.runs = runs
        self.runner = runner
        self.clock = clock
        self.drillInterval = drillInterval
        self.scratchDirectory = scratchDirectory
    }

    private var manifest: Manifest { toolbox.manifest }

    public func check() async -> StatusReport {
        let now = clock.now()
        var metrics = StatusReport.Metrics()
        var checks: [StatusCheck] = []
        let folder = BackupFolder(manifest: manifest)
        var catalog: BackupCatalog?
        var catalogProblem = ""
        do {
            catalog = try folder.catalogStore.load()
        } catch {
            catalogProblem = error.localizedDescription
        }
        let files = fileCheck(catalog: catalog, folder: folder)
        // Only a backup whose file is there with its recorded size and checksum counts as the newest one: a
        // catalog record of a deleted or replaced file restores nothing.
        let newest = files.intact.max { lhs, rhs in
            lhs.name != rhs.name ? lhs.name < rhs.name : lhs.tier > rhs.tier
        }
        if let newest {
            metrics.newestBackupAt = newest.name.timestamp
            metrics.newestBackupAgeSeconds = now.timeIntervalSince(newest.name.timestamp).rounded()
        }
        metrics.lastVerifiedAt = files.intact.compactMap { $0.isVerified ? $0.verification?.verifiedAt : nil }.max()

        checks.append(backupAgeCheck(newest: newest, now: now, catalogProblem: catalogProblem, folder: folder))
        if let check = files.check { checks.append(check) }
        if let schedule = await BackupScheduleStatus(runner: runner).statusCheck(
            manifest: manifest, kubectl: toolbox.kubectl)
        {
            checks.append(schedule)
        }
        checks.append(verificationCheck(newest: newest, now: now))
        checks.append(contentsOf: await offsiteChecks(newest: newest))
        let (drill, ignored) = await lastDrill()
        metrics.lastDrillAt = drill?.endedAt
        metrics.lastDrillRunID = drill?.runID
        checks.append(drillCheck(drill, ignored: ignored, now: now))
        checks.append(reviewCheck(now: now))
        return StatusReport(environment: manifest.environment, checkedAt: now, checks: checks, metrics: metrics)
    }

    // MARK: - Checks

    private func backupAgeCheck(newest: BackupRecord?, now: Date, catalogProblem: String, folder: BackupFolder)
        -> StatusCheck
    {
        let item = "Backups running daily"
        let rpo = manifest.objectives.rpo
        guard let newest else {
            return StatusCheck(
                id: "backups.daily", checklistItem: item, result: .fail,
                evidence: catalogProblem.isEmpty
                    ? "no backup in the catalog of \(folder.root)" : "catalog unreadable: \(catalogProblem)",
                remedy: "run drctl backup create -f \(manifest.source.file.written) and schedule it daily")
        }
        let age = now.timeIntervalSince(newest.name.timestamp)
        let fresh = age < rpo.seconds
        return StatusCheck(
            id: "backups.daily", checklistItem: item, result: fresh ? .pass : .fail,
            evidence: "newest backup \(newest.relativePath) taken \(Self.stamp(newest.name.timestamp)), "
                + "\(Self.age(age)) old (RPO \(rpo.manifestText))",
            remedy: "the newest backup is older than the RPO: check the backup schedule, then drctl backup create")
    }

    /// Every catalog record against its file in the local folder: present, its recorded size, its recorded
    /// checksum. Cheap on purpose: a file whose size and modification time are what its last passed verification
    /// saw (and whose checksum the catalog still records) is trusted without reading it
    /// (`BackupVerifier.isUnchanged`); any other file is hashed. nil when the catalog is unreadable or empty (the
    /// age check says so).
    private func fileCheck(catalog: BackupCatalog?, folder: BackupFolder) -> (
        check: StatusCheck?, intact: [BackupRecord]
    ) {
        guard let catalog, !catalog.records.isEmpty else { return (nil, []) }
        var intact: [BackupRecord] = []
        var problems: [String] = []
        var read = 0
        var copyBack: String?
        for record in catalog.records {
            let file: LocalBackupFile?
            do {
                file = try folder.file(record.tier, fileName: record.fileName)
            } catch {
                problems.append("\(record.relativePath) unreadable: \(error.localizedDescription)")
                continue
            }
            guard let file, file.isRegularFile else {
                problems.append("\(record.relativePath) is missing")
                if copyBack == nil, let copy = record.copies.first {
                    copyBack = Self.copyBackCommand(copy, to: folder.path(record.tier, fileName: record.fileName))
                }
                continue
            }
            guard file.size == record.size else {
                problems.append("\(record.relativePath) is \(file.size) bytes, the catalog recorded \(record.size)")
                continue
            }
            if !BackupVerifier.isUnchanged(file, record: record) {
                read += 1
                do {
                    let sha256 = try SHA256Checksum.ofFile(atPath: file.path)
                    guard sha256 == record.sha256 else {
                        problems.append(
                            "\(record.relativePath) has SHA-256 \(sha256.prefix(12))…, the catalog recorded "
                                + "\(record.sha256.prefix(12))…")
                        continue
                    }
                } catch {
                    problems.append("\(record.relativePath) unreadable: \(error.localizedDescription)")
                    continue
                }
            }
            intact.append(record)
        }
        let item = "Backups running daily"
        guard problems.isEmpty else {
            let shown = problems.prefix(5).joined(separator: "; ")
            let more = problems.count > 5 ? " (and \(problems.count - 5) more)" : ""
            return (
                StatusCheck(
                    id: "backups.files", checklistItem: item, result: .fail,
                    evidence: "\(problems.count) of \(catalog.records.count) catalog backups in \(folder.root) are "
                        + "not as written: \(shown)\(more)",
                    remedy: "these backups cannot be restored from this folder: find out who deleted or changed "
                        + "them; copy each back from its off-site copy"
                        + (copyBack.map { " (\($0))" } ?? "")
                        + " or, when none is left, take a new one (drctl backup create -f \(manifest.source.file.written)) "
                        + "and drop the lost files' records (drctl backup prune -f \(manifest.source.file.written))"),
                intact
            )
        }
        return (
            StatusCheck(
                id: "backups.files", checklistItem: item, result: .pass,
                evidence:
                    "all \(catalog.records.count) catalog backups in \(folder.root) are there with their recorded "
                    + "size and checksum (\(read) changed since their last verification and re-hashed)"),
            intact
        )
    }

    /// How to copy a lost backup back from its off-site copy, as a hint in the remedy.
    static func copyBackCommand(_ copy: OffsiteCopy, to path: String) -> String {
        switch copy.store {
        case .s3: "aws s3 cp \(copy.location) \(path)"
        case .azure:
            "az storage blob download --container-name "
                + "\(copy.location.dropFirst("azure://".count).split(separator: "/").first ?? "<container>") "
                + "--name \(copy.key) --file \(path)"
        }
    }

    private func verificationCheck(newest: BackupRecord?, now: Date) -> StatusCheck {
        let item = "Backup verification automated"
        guard let newest else {
            return StatusCheck(
                id: "backups.verified", checklistItem: item, result: .fail, evidence: "no backup to verify",
                remedy: "create a backup, then run drctl backup verify")
        }
        guard let verification = newest.verification else {
            return StatusCheck(
                id: "backups.verified", checklistItem: item, result: .fail,
                evidence: "newest backup \(newest.relativePath) was never verified",
                remedy: "run drctl backup verify -f \(manifest.source.file.written) after every backup")
        }
        let when =
            "\(Self.stamp(verification.verifiedAt)) (\(Self.age(now.timeIntervalSince(verification.verifiedAt))) ago)"
        if verification.result == .failed {
            return StatusCheck(
                id: "backups.verified", checklistItem: item, result: .fail,
                evidence: "newest backup \(newest.relativePath) FAILED verification at \(when): "
                    + (verification.failure ?? "no detail"),
                remedy: "the newest backup is unusable: investigate, then drctl backup create and verify")
        }
        return StatusCheck(
            id: "backups.verified", checklistItem: item, result: .pass,
            evidence: "newest backup \(newest.relativePath) verified at \(when), sha256 \(newest.sha256.prefix(12))…")
    }

    /// The newest backup must be in every off-site store with its size and a `.sha256` sidecar naming the
    /// catalog's checksum. Reads only: the listing and the sidecar.
    private func offsiteChecks(newest: BackupRecord?) async -> [StatusCheck] {
        let item = "S3/Azure sync working"
        let targets = OffsiteTarget.targets(of: toolbox)
        guard !targets.isEmpty else {
            return [
                StatusCheck(
                    id: "offsite", checklistItem: item, result: .fail,
                    evidence: "the manifest names no off-site store (backups.s3 / backups.azure)",
                    remedy: "add backups.s3 or backups.azure to the manifest and run drctl backup sync")
            ]
        }
        var checks: [StatusCheck] = []
        for target in targets {
            let id = "offsite.\(target.kind.rawValue)"
            guard let newest else {
                checks.append(
                    StatusCheck(
                        id: id, checklistItem: item, result: .fail, evidence: "no local backup to compare with",
                        remedy: "create a backup and run drctl backup sync"))
                continue
            }
            let key = target.key(for: newest)
            let location = "\(target.store.displayName)/\(key)"
            do {
                let listing = try await runner.runChecked(target.store.list(prefix: target.prefix))
                let objects = try target.store.parseList(listing.standardOutput)
                guard let object = objects.first(where: { $0.key == key }) else {
                    checks.append(
                        StatusCheck(
                            id: id, checklistItem: item, result: .fail,
                            evidence: "\(location) is missing (\(objects.count) objects under the prefix)",
                            remedy: "run drctl backup sync -f \(manifest.source.file.written)"))
                    continue
                }
                let sidecar = try await sidecarChecksum(key: key, target: target)
                let sizeMatches = object.size == newest.size
                let shaMatches = sidecar == newest.sha256
                let evidence =
                    "\(location): \(object.size) bytes (catalog \(newest.size)), sidecar sha256 "
                    + (sidecar.map { "\($0.prefix(12))…" } ?? "missing") + " (catalog \(newest.sha256.prefix(12))…)"
                checks.append(
                    StatusCheck(
                        id: id, checklistItem: item, result: sizeMatches && shaMatches ? .pass : .fail,
                        evidence: evidence,
                        remedy: "the off-site copy differs from the local backup: run drctl backup sync and look at "
                            + "who replaced the object"))
            } catch {
                checks.append(
                    StatusCheck(
                        id: id, checklistItem: item, result: .fail,
                        evidence: "listing \(target.store.displayName)/\(target.prefix) failed: "
                            + ((error as? LocalizedError)?.errorDescription ?? "\(error)"),
                        remedy: "check the store's credentials and endpoint"))
            }
        }
        return checks
    }

    private func sidecarChecksum(key: String, target: OffsiteTarget) async throws -> String? {
        let path = (scratchDirectory as NSString).appendingPathComponent("drctl-status-\(UUID().uuidString).sha256")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await runner.run(
            try target.store.download(OffsiteTarget.sidecarKey(for: key), to: .file(path)))
        guard result.succeeded, let data = FileManager.default.contents(atPath: path) else { return nil }
        return SHA256Checksum.parseSidecar(String(decoding: data, as: UTF8.self))
    }

    struct Drill {
        var runID: String
        var environment: String
        /// The environment whose backups the drill restored (`--from`); nil in runs journaled before it was.
        var fromEnvironment: String?
        var scenario: String
        var endedAt: Date
    }

    /// The newest succeeded game day that restored data (not an app rollback) and concerns this manifest's
    /// environment: run against it (the target), or restoring its backups (`--from`, journaled as
    /// `fromEnvironment`) — production's restore is tested by the staging drill from production's backups. Drills
    /// of other environments do not count. `ignored` is the newest succeeded drill passed over because it restored
    /// no data, for the evidence.
    private func lastDrill() async -> (restore: Drill?, ignored: Drill?) {
        guard let runs, let summaries = try? await runs.list() else { return (nil, nil) }
        let environment = manifest.environment
        var ignored: Drill?
        for summary in summaries where summary.runbook == Self.drillRunbookID && summary.status == "succeeded" {
            guard let history = try? await runs.history(runID: summary.runID), let end = history.endedAt else {
                continue
            }
            let options = try? history.header.parameters.options(GamedayScenario.Options.self)
            let from = options?.fromEnvironment
            guard history.header.environment == environment || from == environment else { continue }
            let scenario = options?.scenario ?? "?"
            let drill = Drill(
                runID: summary.runID, environment: history.header.environment, fromEnvironment: from,
                scenario: scenario, endedAt: end)
            guard DrillScript.Scenario(rawValue: scenario)?.restoresData ?? false else {
                if ignored == nil { ignored = drill }
                continue
            }
            return (drill, ignored)
        }
        return (nil, ignored)
    }

    private func drillCheck(_ drill: Drill?, ignored: Drill?, now: Date) -> StatusCheck {
        let item = "Restore tested quarterly"
        let remedy =
            "run a game day that restores data: drctl gameday -f manifests/staging.yaml --from "
            + "\(manifest.source.file.written) --scenario cluster-loss --drill manifests/gameday-cluster-loss.yaml "
            + "(or db-restore, row-recovery)"
        let passedOver =
            ignored.map {
                "; game day \($0.runID) (\($0.scenario), \(Self.stamp($0.endedAt))) does not count: it restored no data"
            } ?? ""
        guard let drill else {
            return StatusCheck(
                id: "restore.tested", checklistItem: item, result: .fail,
                evidence: runs == nil
                    ? "the state folder could not be read"
                    : "no succeeded game day that restored data in the journal on \(manifest.environment) or from its "
                        + "backups" + passedOver,
                remedy: remedy)
        }
        let age = now.timeIntervalSince(drill.endedAt)
        return StatusCheck(
            id: "restore.tested", checklistItem: item, result: age < drillInterval.seconds ? .pass : .fail,
            evidence: "game day \(drill.runID) (\(drill.scenario) on \(drill.environment)"
                + (drill.fromEnvironment.map { " from \($0)'s backups" } ?? "") + ") succeeded "
                + "\(Self.stamp(drill.endedAt)), \(Self.age(age)) ago (due every \(drillInterval.manifestText))",
            remedy: remedy)
    }

    private func reviewCheck(now: Date) -> StatusCheck {
        let item = "Runbook reviewed quarterly"
        guard let review = manifest.review else {
            return StatusCheck(
                id: "runbook.reviewed", checklistItem: item, result: .fail,
                evidence: "the manifest has no review date",
                remedy: "review the runbook and add review: { lastReviewed: YYYY-MM-DD, every: 90d } to the manifest")
        }
        let day = Self.day(review.lastReviewed)
        return StatusCheck(
            id: "runbook.reviewed", checklistItem: item, result: now < review.due ? .pass : .fail,
            evidence: "last reviewed \(day), next review due \(Self.day(review.due))",
            remedy: "review the runbook, then update review.lastReviewed in the manifest")
    }

    // MARK: - Formatting

    /// `2026-11-25T02:00:00Z`.
    static func stamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    /// `2026-11-25`.
    static func day(_ date: Date) -> String {
        String(stamp(date).prefix(10))
    }

    /// `3d 4h`, `5h 12m`, `42s`.
    static func age(_ seconds: Double) -> String {
        let total = Int(max(0, seconds))
        let days = total / 86_400
        let hours = (total % 86_400) / 3_600
        let minutes = (total % 3_600) / 60
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m \(total % 60)s" }
        return "\(total)s"
    }
}
