import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Restoring a backup that lives only off-site in one pass: `aws s3 cp s3://… - | (sha256 and byte count in
/// drctl) | gzip -dc | psql --single-transaction` into the run's new database. The checks a download got before
/// the restore happen on the way and at the end: size floor (from the listing, before), SHA-256 against the
/// `.sha256` sidecar and byte count against the listing (drctl's tap), gzip integrity and trailing garbage
/// (gzip's exit status), psql's exit status. Any failure drops the new database — the target is never touched —
/// and, unless a backup was named, the next older one is tried.
extension OffsiteBackupFetcher {
    /// What `stream` loaded and verified, as step outputs.
    public struct Loaded: Sendable {
        public var name: String
        public var key: String
        public var size: Int64
        public var sha256: String
        public var checksumVerified: Bool
        public var skipped: [String]
        /// The new database holding the backup, ready to be swapped in.
        public var scratchDatabase: String
        /// How the loaded database was checked against the backup's content record (`DatabaseRestorer`).
        public var contentCheck: String = ""

        public var outputs: StepOutputs {
            [
                "name": name, "key": key, "size": String(size), "sha256": sha256,
                "checksumVerified": checksumVerified ? "yes" : "no (no .sha256 recorded off-site)",
                "skipped": skipped.joined(separator: "; "), "scratchDatabase": scratchDatabase,
                "contentCheck": contentCheck,
            ]
        }
    }

    /// The commands `stream` runs in `step`, for a plan.
    public func plannedStreamCommands(
        step: StepID, backup: String?, before: Date? = nil, restorer: DatabaseRestorer, into database: String? = nil
    ) -> [String] {
        guard let (store, prefix) = try? location() else { return ["(no off-site store in the manifest)"] }
        let newest = before.map { "newest before \(Self.utc($0))" } ?? "newest"
        let name = backup ?? "<\(newest) \(backupDatabaseName)_backup_*\(plannedExtension(backup))>"
        if plannedExtension(backup) == BackupName.archiveFileExtension {
            return plannedArchiveCommands(
                step: step, name: name, backup: backup, store: store, prefix: prefix, restorer: restorer,
                into: database)
        }
        let floor = toolbox.manifest.backups.sizeFloor
        var lines = [
            store.list(prefix: prefix).redactedCommandLine,
            "(size in the listing ≥ \(floor), else refused before streaming)",
        ]
        if let sidecar = try? store.download(prefix + name + ".sha256", to: .stream) {
            lines.append(sidecar.redactedCommandLine)
        } else if let sidecar = try? store.download(
            prefix + name + ".sha256", to: .file("$RUN_DIR/backup/" + name + ".sha256"))
        {
            lines.append(sidecar.redactedCommandLine)
        }
        let source: DatabaseRestorer.LoadSource
        if let stream = try? store.download(prefix + name, to: .stream) {
            source = .program(stream)
        } else {
            let path = "$RUN_DIR/backup/" + name
            if let download = try? store.download(prefix + name, to: .file(path)) {
                lines.append(download.redactedCommandLine + "  (\(store.displayName) cannot write to a pipe)")
            }
            source = .file(path)
        }
        if toolbox.manifest.database.dataPlane == .job {
            lines += plannedJobLoadCommands(
                step: step, name: name, prefix: prefix, restorer: restorer, into: database, backup: backup)
        } else {
            lines += restorer.plannedLoadCommands(source: source, into: database)
            lines.insert(
                "(the new database's drop and create below run beside the listing: they need no backup; the sidecars"
                    + " are read beside the stream)", at: lines.count - 3)
            lines.append(DumpOriginCheck(gzip: toolbox.gzip).plannedHoldLine)
        }
        lines += [
            "(sha256 of the stream compared with \(name).sha256; bytes compared with the listing; gzip -dc's exit"
                + " status: corrupt, truncated, trailing garbage; psql's exit status)",
            "(on any mismatch the new database is dropped and"
                + (backup == nil ? " the next older backup is tried)" : " the run stops)"),
        ]
        lines += restorer.plannedContentCheck(into: database)
        lines.append(restorer.plannedMarkLoadedCommand(into: database))
        return lines
    }

    /// A custom-format backup cannot be streamed (`pg_restore -j` seeks): downloaded into the run's scratch
    /// folder, verified, restored with `pg_restore -j`, removed.
    private func plannedArchiveCommands(
        step: StepID, name: String, backup: String?, store: any ObjectStore, prefix: String, restorer: DatabaseRestorer,
        into database: String?
    ) -> [String] {
        let path = "$RUN_DIR/backup/" + name
        var lines = [
            store.list(prefix: prefix).redactedCommandLine,
            plannedSizeFloorLine,
        ]
        if toolbox.manifest.database.dataPlane == .job {
            lines += plannedJobLoadCommands(
                step: step, name: name, prefix: prefix, restorer: restorer, into: database, archive: true,
                backup: backup)
            lines.append(
                "(on any refusal or a failing pg_restore the new database is dropped and"
                    + (backup == nil ? " the next older backup is tried)" : " the run stops)"))
            return lines + restorer.plannedContentCheck(into: database) + [
                restorer.plannedMarkLoadedCommand(into: database)
            ]
        }
        if let download = try? store.download(prefix + name, to: .file(path)) {
            lines.append(download.redactedCommandLine + "  (pg_restore -j needs a seekable file, not a pipe)")
        }
        lines.append("sha256(\(path)) compared with \(prefix + name).sha256; bytes compared with the listing")
        lines += plannedIntegrityCommands(file: path, backup: backup)
        lines += restorer.plannedArchiveLoadCommands(file: path, into: database)
        lines += [
            "(on any refusal or a failing pg_restore the new database is dropped and"
                + (backup == nil ? " the next older backup is tried)" : " the run stops)")
        ]
        lines += restorer.plannedContentCheck(into: database)
        lines += [
            restorer.plannedMarkLoadedCommand(into: database), "(\(path) is removed afterwards, whatever happened)",
        ]
        return lines
    }

    /// Streams `backup`, or the newest backup (taken strictly before `before`, when given), into `database` (the
    /// run's new database `<db>_restore_<run>` unless given) and verifies it on the way; refused candidates are
    /// dropped and the next older one tried. The tap holds each SQL candidate's first MiB until its origin check
    /// passed (`DumpOriginCheck.hold`): a `pg_dump -C` dump (which would `\connect` elsewhere) or a file that is no
    /// dump is refused before gzip or psql sees a byte of it.
    ///
    /// The empty new database for the first candidate is created while the store is listed (it needs no backup);
    /// a later candidate gets a fresh one after the refused one's was dropped. `olderThan`: only the backups older
    /// than that one (after the rebuild's spool of it was refused, `loadSpooled`).
    public func stream(
        backup: String?, before: Date? = nil, olderThan: String? = nil, restorer: DatabaseRestorer,
        into database: String? = nil, context: StepContext
    ) async throws -> Loaded {
        let target = database ?? restorer.scratchName(runID: context.runID)
        // In a Job (`loadInJob`) the new database is prepared once no interrupted attempt's Job is found.
        let early = toolbox.manifest.database.dataPlane != .job
        async let preparedEarly: Void = early ? restorer.prepare(target, context: context) : ()
        let listed: (store: any ObjectStore, prefix: String, objects: [StoredObject])
        do {
            listed = try await candidates(backup: backup, before: before, olderThan: olderThan, context: context)
            try await preparedEarly
        } catch {
            if early, !(error is CancellationError) { _ = try? await restorer.drop(target, context: context) }
            throw error
        }
        let (store, prefix, candidates) = listed
        return try await firstAccepted(
            candidates, location: "\(store.displayName)/\(prefix)", context: context,
            cleanUp: { _ = try? await restorer.drop(target, context: context) },
            // A psql without restricted mode would refuse every candidate alike: no backup is to blame.
            isFinal: { error in
                if case RecoveryError.psqlWithoutRestrictedMode = error { return true }
                return false
            }
        ) { index, object, skipped in
            let (scratch, sha256, recorded, contentCheck) = try await load(
                object, store: store, restorer: restorer, into: target, prepared: early && index == 0,
                context: context)
            return Loaded(
                name: Self.fileName(object.key), key: object.key, size: object.size, sha256: sha256,
                checksumVerified: recorded, skipped: skipped, scratchDatabase: scratch, contentCheck: contentCheck)
        }
    }

    /// Loads one candidate into `scratch`; `prepared`: the empty new database is already there.
    private func load(
        _ object: StoredObject, store: any ObjectStore, restorer: DatabaseRestorer, into scratch: String,
        prepared: Bool, context: StepContext
    ) async throws -> (
        scratch: String, sha256: String, recorded: Bool, contentCheck: String
    ) {
        let name = Self.fileName(object.key)
        try requireSizeFloor(object)
        let inJob = toolbox.manifest.database.dataPlane == .job
        let custom = BackupName.format(ofFileName: name) == .custom
        if custom && !inJob {
            return try await loadArchive(object, store: store, restorer: restorer, into: scratch, context: context)
        }
        // The two sidecars (`.sha256` and `.record.json`, an `aws` start each) are read beside the stream: they
        // are only needed for the verdict after it. The stream starts once the new database is there; its tap
        // holds the first MiB until the origin check passed (`streamLoad`), so nothing of a refused dump reaches
        // psql and the head is not downloaded twice. In a Job (`database.dataPlane: job`) the new database is
        // prepared by `loadInJob`, which first looks for the Job of an interrupted attempt, and the Job's agent
        // holds the head the same way; a custom-format backup is downloaded, verified and restored with
        // `pg_restore -j` in the pod.
        let recorded = Task { try await recordedChecksum(of: object, store: store, context: context) }
        let content = Task { try await recordedContent(of: object, store: store, context: context) }
        defer {
            recorded.cancel()
            content.cancel()
        }
        if !inJob && !prepared { try await restorer.prepare(scratch, context: context) }
        let sha256: String
        let expected: String?
        // The rows psql reported for the stream's COPYs; in a Job the pod's psql reported them, and they are
        // counted again here (see `CopyRowCounts`).
        var copied: CopyRowCounts?
        if inJob {
            (sha256, expected) = try await loadInJob(
                object, restorer: restorer, into: scratch, recorded: { try await recorded.value }, context: context)
        } else {
            let streamed = try await streamLoad(
                object, store: store, restorer: restorer, into: scratch, recorded: { try await recorded.value },
                context: context)
            (sha256, expected) = (streamed.sha256, streamed.expected)
            copied = CopyRowCounts.parse(streamed.result.output)
        }
        if expected == nil {
            context.log(
                "no recorded checksum for \(name) off-site; verified by "
                    + (custom ? "pg_restore and size only" : "gzip, size and psql only"))
        }
        let checked = try await restorer.checkContent(
            of: scratch, record: try await content.value, file: name, sha256: sha256, copied: copied,
            context: context)
        try await context.runner.runChecked(
            restorer.markLoaded(scratch: scratch, runID: context.runID, sha256: sha256))
        context.log(
            "\(name) loaded into \(scratch) and verified (sha256 \(sha256.prefix(12))…"
                + (expected == nil ? ", no recorded checksum)" : " = recorded)"))
        return (scratch, sha256, expected != nil, checked["contentCheck"] ?? "")
    }

    /// `aws s3 cp KEY - | tap | gzip -dc | psql` into the prepared `scratch` and the verdict on it (`judge`):
    /// the stream's SHA-256 and the pipeline's result. On the operator's machine (`load`) and in a Job's pod
    /// (`RestoreLoadAgent`) alike.
    func streamLoad(
        _ object: StoredObject, store: any ObjectStore, restorer: DatabaseRestorer, into scratch: String,
        expected: String?, context: StepContext
    ) async throws -> (sha256: String, result: PipelineResult) {
        let streamed = try await streamLoad(
            object, store: store, restorer: restorer, into: scratch, recorded: { expected }, context: context)
        return (streamed.sha256, streamed.result)
    }

    /// `streamLoad` with the recorded checksum read beside the stream: `recorded` is awaited once the stream
    /// ended, for the verdict.
    func streamLoad(
        _ object: StoredObject, store: any ObjectStore, restorer: DatabaseRestorer, into scratch: String,
        recorded: @Sendable () async throws -> String?, context: StepContext
    ) async throws -> (sha256: String, result: PipelineResult, expected: String?) {
        let name = Self.fileName(object.key)
        var downloaded: String?
        defer { if let downloaded { try? FileManager.default.removeItem(atPath: downloaded) } }
        let source: DatabaseRestorer.LoadSource
        if let stream = try? store.download(object.key, to: .stream) {
            source = .program(stream)
        } else {
            let path = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "backup") + "/" + name
            downloaded = path
            try await context.runner.runChecked(try store.download(object.key, to: .file(path)))
            source = .file(path)
        }
        context.log("streaming \(name) (\(ByteSize(bytes: object.size))) into \(scratch)")
        var load = restorer.loadPipeline(source: source, into: scratch)
        if BackupName.format(ofFileName: name) != .custom {
            load.taps[0].hold = DumpOriginCheck(gzip: toolbox.gzip).hold(
                name: name, database: backupDatabaseName, runner: context.runner)
        }
        let result = try await context.runner.run(load)
        let expected = try await recorded()
        let sha256 = try Self.judge(
            result, name: name, loadedInto: scratch, target: toolbox.manifest.database.name,
            listedSize: object.size, expected: expected)
        return (sha256, result, expected)
    }

    /// A custom-format backup: downloaded into the run's scratch folder (mode 0600 in a 0700 folder), its size,
    /// SHA-256 (against the `.sha256` sidecar) and archive integrity checked, then `pg_restore -j` into the new
    /// database; the download is removed afterwards, whatever happened.
    private func loadArchive(
        _ object: StoredObject, store: any ObjectStore, restorer: DatabaseRestorer, into scratch: String,
        context: StepContext
    ) async throws -> (
        scratch: String, sha256: String, recorded: Bool, contentCheck: String
    ) {
        let name = Self.fileName(object.key)
        let expected = try await recordedChecksum(of: object, store: store, context: context)
        let path = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "backup") + "/" + name
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sha256 = try await downloadVerified(object, store: store, to: path, expected: expected, context: context)
        try await restorer.prepare(scratch, context: context)
        let jobs = toolbox.manifest.backups.effectiveRestoreJobs
        context.log("restoring \(name) into \(scratch) with pg_restore -j \(jobs)")
        try await context.runner.runChecked(restorer.archiveLoad(file: path, into: scratch))
        let checked = try await restorer.checkContent(
            of: scratch, record: try await recordedContent(of: object, store: store, context: context), file: name,
            sha256: sha256, context: context)
        try await context.runner.runChecked(restorer.markLoaded(scratch: scratch, runID: context.runID, sha256: sha256))
        context.log(
            "\(name) restored into \(scratch) and verified (sha256 \(sha256.prefix(12))…"
                + (expected == nil ? ", no recorded checksum)" : " = recorded)"))
        return (scratch, sha256, expected != nil, checked["contentCheck"] ?? "")
    }

    /// Downloads a custom-format backup to `path` (mode 0600) — `pg_restore -j` needs a seekable file — and
    /// checks it before anything reads it: its size against the listing, its SHA-256 against `expected` (the
    /// `.sha256` sidecar), the archive's integrity. Returns the SHA-256. On the operator's machine
    /// (`loadArchive`) and in a Job's pod (`RestoreLoadAgent`) alike.
    func downloadVerified(
        _ object: StoredObject, store: any ObjectStore, to path: String, expected: String?, context: StepContext
    ) async throws -> String {
        let name = Self.fileName(object.key)
        context.log("downloading \(name) (\(ByteSize(bytes: object.size))): pg_restore -j needs a seekable file")
        try await context.runner.runChecked(try store.download(object.key, to: .file(path)))
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let size = try BackupIntegrityCheck.size(of: path)
        guard size == object.size else {
            throw BackupError.backupCorrupt(
                file: name, detail: "\(size) bytes downloaded, but the store lists \(object.size)")
        }
        let sha256: String
        do {
            sha256 = try SHA256Checksum.ofFile(atPath: path)
        } catch {
            throw BackupError.fileUnreadable(path: path, reason: error.reason)
        }
        if let expected, expected != sha256 {
            throw ScenarioError.checksumMismatch(file: name, expected: expected, actual: sha256)
        }
        if expected == nil {
            context.log("no recorded checksum for \(name) off-site; verified by pg_restore and size only")
        }
        try await testIntegrity(path: path, name: name, context: context)
        return sha256
    }

    /// The `.sha256` sidecar's digest; nil when there is none.
    func recordedChecksum(of object: StoredObject, store: any ObjectStore, context: StepContext)
        async throws -> String?
    {
        try await sidecar(object.key + ".sha256", store: store, context: context).flatMap(SHA256Checksum.parseSidecar)
    }

    /// The `.record.json` sidecar (`BackupContentRecord`); nil when there is none.
    private func recordedContent(of object: StoredObject, store: any ObjectStore, context: StepContext)
        async throws -> BackupContentRecord?
    {
        let key = object.key + BackupContentRecord.sidecarSuffix
        guard let text = try await sidecar(key, store: store, context: context) else { return nil }
        return try BackupContentRecord.decode(Data(text.utf8), backup: Self.fileName(object.key), location: key)
    }

    /// A small sidecar object's text; nil when it cannot be read (there is none).
    func sidecar(_ key: String, store: any ObjectStore, context: StepContext) async throws -> String? {
        if let stream = try? store.download(key, to: .stream) {
            let result = try await context.runner.run(stream)
            return result.succeeded ? result.output : nil
        }
        let path =
            try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "backup") + "/"
            + Self.fileName(key)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await context.runner.run(try store.download(key, to: .file(path)))
        guard result.succeeded else { return nil }
        return try? String(contentsOfFile: path, encoding: .utf8)
    }

    /// Reads the load pipeline's result: a failed download (the stages up to the tap) fails; the tap's digest and
    /// byte count against the recorded ones; then what the failing stage's declared meaning says (gzip's refusal of
    /// damaged bytes, psql's of the backup's SQL: `ExitMeaning.refused`), cause first. Returns the SHA-256.
    static func judge(
        _ result: PipelineResult, name: String, loadedInto scratch: String, target: String, listedSize: Int64,
        expected: String?
    ) throws -> String {
        func refused(_ reason: String) -> ScenarioError {
            .streamedBackupRefused(file: name, loadedInto: scratch, target: target, reason: reason)
        }
        guard let reading = result.taps.first else {
            throw refused("drctl did not see the stream (the load pipeline has no tap on the download)")
        }
        // The origin check refused the held first MiB and cut the download off (its failure is the tap's doing).
        if let refusal = reading.refusal, !reading.reachedEnd { throw refusal.error }
        let failure = result.failure
        if let failure, let stage = failure.stageIndex, stage <= reading.afterStage { throw failure }
        // The download ended within the first MiB and succeeded: what the origin check said of all of it.
        if let refusal = reading.refusal { throw refusal.error }
        if result.succeeded(before: reading), reading.reachedEnd {
            if let expected, expected != reading.sha256 {
                throw refused(
                    "its SHA-256 is \(reading.sha256), but the recorded one (\(name).sha256) is \(expected)")
            }
            if reading.byteCount != listedSize {
                throw refused("\(reading.byteCount) bytes arrived, but the store lists \(listedSize)")
            }
        }
        if let failure {
            // gzip found the bytes damaged, or psql stopped on the backup's SQL (ON_ERROR_STOP, one transaction),
            // or on drctl's `\restrict`, which it does not know.
            if let refusal = failure.refusal {
                try DatabaseRestorer.requireRestrictedMode(failure, file: name)
                throw refused(refusal)
            }
            throw failure
        }
        guard reading.reachedEnd else { throw refused("the stream ended before the download finished") }
        return reading.sha256
    }
}
