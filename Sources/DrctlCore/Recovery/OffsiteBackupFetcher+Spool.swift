import Foundation

/// The rebuild's off-site read ahead of the database (`backup.select`, beside the PostgreSQL release, on the
/// operator's machine): listing, choosing and downloading need no database. The candidate is chosen as `stream`
/// chooses (`--backup`, `--before`, size floor), its `.sha256` and `.record.json` sidecars are read, and its bytes
/// are spooled into the run's scratch folder (mode 0600 in a 0700 folder) with drctl's tap computing their
/// SHA-256 as it writes them. The spool is judged against the recorded checksum, the listing's size and the origin
/// check on its first MiB before anything loads it: a tampered or damaged candidate is refused and removed before
/// any database exists or psql sees a byte of it, and the next older one is spooled instead. `loadSpooled` (the
/// `backup.fetch` step) then loads the verified spool in one pass (`gzip -dc < FILE | psql`).
extension OffsiteBackupFetcher {
    /// The scratch sub-folder the spool lives in (removed with the run's scratch folder by `scratch.cleanup`).
    static let spoolFolder = "spool"
    /// Room left beside the spool on the scratch folder's file system (the content record, values files).
    static let spoolHeadroom: Int64 = 16 << 20

    /// The commands `spool` runs, for a plan.
    public func plannedSpoolCommands(backup: String?, before: Date?) -> [String] {
        guard let (store, prefix) = try? location() else { return ["(no off-site store in the manifest)"] }
        let newest = before.map { "newest before \(Self.utc($0))" } ?? "newest"
        let name = backup ?? "<\(newest) \(backupDatabaseName)_backup_*\(plannedExtension(backup))>"
        let path = "$RUN_DIR/\(Self.spoolFolder)/" + name
        var lines = [
            store.list(prefix: prefix).redactedCommandLine,
            plannedSizeFloorLine,
        ]
        for suffix in [".sha256", BackupContentRecord.sidecarSuffix] {
            if let sidecar = try? store.download(prefix + name + suffix, to: .stream) {
                lines.append(sidecar.redactedCommandLine)
            }
        }
        lines.append(
            "(free space in $RUN_DIR/\(Self.spoolFolder) ≥ the backup's size + \(ByteSize(bytes: Self.spoolHeadroom)),"
                + " else not spooled: backup.fetch streams it as before; a .dump is not spooled either)")
        if let stream = try? store.download(prefix + name, to: .stream) {
            lines.append(Self.spoolPipeline(stream, to: path).redactedCommandLine + "  (mode 0600)")
        } else if let download = try? store.download(prefix + name, to: .file(path)) {
            lines.append(download.redactedCommandLine + "  (then sha256 and byte count of the file in drctl)")
        }
        lines += [
            "(sha256 of the spool compared with \(name).sha256, bytes with the listing: a mismatch is refused and"
                + " removed before any database is created, and"
                + (backup == nil ? " the next older backup is spooled)" : " the run stops)"),
            DumpOriginCheck(gzip: toolbox.gzip).plannedHeadLine(localFile: path)
                + "  (a pg_dump -C dump or no dump at all is refused before psql sees it)",
            "(the choice — key, size, sha256, spool path — is this step's journaled output: a resumed run re-uses it)",
        ]
        return lines
    }

    /// The commands `loadSpooled` runs, for a plan.
    public func plannedSpooledLoadCommands(backup: String?, before: Date?, restorer: DatabaseRestorer) -> [String] {
        let path = "$RUN_DIR/\(Self.spoolFolder)/<the spooled backup>"
        var lines = [
            "(the spool backup.select chose and verified; downloaded again, and its sha256 compared with the"
                + " journaled one, when it is gone or has another size)"
        ]
        lines += restorer.plannedLoadCommands(source: .file(path))
        lines.append(
            "(one pass: sha256 of the spool compared with backup.select's; bytes with its size; gzip -dc's exit status:"
                + " corrupt, truncated, trailing garbage; psql's exit status)")
        lines += restorer.plannedContentCheck()
        lines.append(restorer.plannedMarkLoadedCommand())
        lines.append(
            "(when backup.select spooled nothing — no room, a .dump — or the spool is refused here: the new database is"
                + " dropped and"
                + (backup == nil ? " the backups older than it are streamed as before:)" : " the run stops)"))
        if backup == nil {
            lines += plannedStreamCommands(step: "backup.fetch", backup: backup, before: before, restorer: restorer)
        }
        return lines
    }

    /// `aws s3 cp KEY - | (sha256 and byte count in drctl) > PATH`: the tap computes the digest of exactly the
    /// bytes it writes to the spool.
    static func spoolPipeline(_ download: CommandInvocation, to path: String) -> CommandPipeline {
        CommandPipeline([download], output: .file(path), taps: [PipelineTap(afterStage: 0, readsToEnd: true)])
    }

    /// Chooses `backup`, or the newest backup (taken strictly before `before`, when given), spools it into the
    /// run's scratch folder and verifies it; a refused candidate is removed at once and the next older one tried.
    /// Returns the choice as step outputs (`spooled` `yes`, with `path`); `spooled` `no` (and `note`) when there is
    /// no room for it or it is a `.dump`: `loadSpooled` then streams as before.
    public func spool(backup: String?, before: Date?, context: StepContext) async throws -> StepOutputs {
        let (store, prefix, candidates) = try await self.candidates(backup: backup, before: before, context: context)
        let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: Self.spoolFolder)
        return try await firstAccepted(
            candidates, location: "\(store.displayName)/\(prefix)", when: " before any database was touched",
            context: context
        ) { _, object, skipped in
            let name = Self.fileName(object.key)
            func notSpooled(_ note: String) -> StepOutputs {
                context.log(note)
                return [
                    "spooled": "no", "name": name, "key": object.key, "size": String(object.size), "note": note,
                    "skipped": skipped.joined(separator: "; "),
                ]
            }
            if BackupName.format(ofFileName: name) == .custom {
                return notSpooled("\(name) is a .dump: backup.fetch downloads and checks it as before")
            }
            let needed = object.size + Self.spoolHeadroom
            if let free = RunScratch.freeBytes(at: folder), free < needed {
                return notSpooled(
                    "not enough room in \(folder) to spool \(name) (needs \(ByteSize(bytes: needed)), "
                        + "\(ByteSize(bytes: free)) free): backup.fetch streams it as before")
            }
            var outputs = try await spoolCandidate(object, store: store, into: folder, context: context)
            outputs["skipped"] = skipped.joined(separator: "; ")
            return outputs
        }
    }

    /// Spools one candidate into `folder` and verifies it; the spool (and its record) is removed when refused.
    private func spoolCandidate(
        _ object: StoredObject, store: any ObjectStore, into folder: String, context: StepContext
    ) async throws -> StepOutputs {
        let name = Self.fileName(object.key)
        try requireSizeFloor(object)
        let path = folder + "/" + name
        let recordPath = BackupContentRecord.sidecarPath(for: path)
        var refused = true
        defer { if refused { Self.removeSpool(path) } }
        async let expected = recordedChecksum(of: object, store: store, context: context)
        async let recordText = sidecar(object.key + BackupContentRecord.sidecarSuffix, store: store, context: context)
        context.log("spooling \(name) (\(ByteSize(bytes: object.size))) into the run's scratch folder")
        let sha256 = try await download(object, store: store, to: path, context: context)
        let recorded = try await expected
        if let recorded, recorded != sha256 {
            throw ScenarioError.checksumMismatch(file: name, expected: recorded, actual: sha256)
        }
        if let text = try await recordText {
            let location = object.key + BackupContentRecord.sidecarSuffix
            _ = try BackupContentRecord.decode(Data(text.utf8), backup: name, location: location)
            try RunScratch.writePrivate(text, to: recordPath)
        }
        try await DumpOriginCheck(gzip: toolbox.gzip).checkHead(
            localFile: path, name: name, database: backupDatabaseName, runner: context.runner)
        refused = false
        context.log(
            "\(name) spooled and verified (sha256 \(sha256.prefix(12))…"
                + (recorded == nil
                    ? ", no recorded checksum off-site: gzip and psql judge it at load)" : " = recorded)"))
        return [
            "spooled": "yes", "name": name, "key": object.key, "size": String(object.size), "sha256": sha256,
            "checksumVerified": recorded == nil ? "no (no .sha256 recorded off-site)" : "yes", "path": path,
        ]
    }

    /// Downloads `object` to `path` (mode 0600) and returns the SHA-256 of the bytes written, after checking their
    /// count against the listing: through drctl's tap when the store's client writes to a pipe, else read after.
    private func download(
        _ object: StoredObject, store: any ObjectStore, to path: String, context: StepContext
    ) async throws -> String {
        let name = Self.fileName(object.key)
        let sha256: String
        let size: Int64
        if let stream = try? store.download(object.key, to: .stream) {
            let result = try await context.runner.run(Self.spoolPipeline(stream, to: path))
            if let failure = result.failure { throw failure }
            guard let reading = result.taps.first, reading.reachedEnd else {
                throw BackupError.backupCorrupt(file: name, detail: "drctl did not see the download to its end")
            }
            (sha256, size) = (reading.sha256, reading.byteCount)
        } else {
            try await context.runner.runChecked(try store.download(object.key, to: .file(path)))
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            size = try BackupIntegrityCheck.size(of: path)
            do {
                sha256 = try SHA256Checksum.ofFile(atPath: path)
            } catch {
                throw BackupError.fileUnreadable(path: path, reason: error.reason)
            }
        }
        guard size == object.size else {
            throw BackupError.backupCorrupt(
                file: name, detail: "\(size) bytes downloaded, but the store lists \(object.size)")
        }
        return sha256
    }

    /// Loads what `spool` chose (`spooled`, its journaled outputs) into the run's new database: the verified
    /// spool in one pass (`DatabaseRestorer.load`: its SHA-256 and size compared again on the way, then the
    /// content record). A spool that is gone or has another size (a resumed run on a machine that lost it) is
    /// downloaded again and must have the journaled SHA-256. Nothing spooled, or the spool refused at load:
    /// `stream` as before, for the backups older than the refused one (unless a backup was named).
    public func loadSpooled(
        _ spooled: StepOutputs, backup: String?, before: Date?, restorer: DatabaseRestorer, context: StepContext
    ) async throws -> Loaded {
        guard spooled["spooled"] == "yes", let name = spooled["name"], let key = spooled["key"],
            let path = spooled["path"], let sha256 = spooled["sha256"], let size = Int64(spooled["size"] ?? "")
        else {
            return try await stream(backup: backup, before: before, restorer: restorer, context: context)
        }
        let skipped = (spooled["skipped"] ?? "").isEmpty ? [] : [spooled["skipped"] ?? ""]
        let target = restorer.scratchName(runID: context.runID)
        do {
            if (try? BackupIntegrityCheck.size(of: path)) != size {
                context.log("the spool of \(name) is gone or changed: downloading it again")
                let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: Self.spoolFolder)
                let again = try await spoolCandidate(
                    StoredObject(key: key, size: size), store: try location().store, into: folder, context: context)
                guard again["sha256"] == sha256 else {
                    Self.removeSpool(path)
                    throw ScenarioError.checksumMismatch(file: name, expected: sha256, actual: again["sha256"] ?? "")
                }
            }
            context.log("loading the verified spool of \(name) into \(target)")
            let checked = try await restorer.load(
                file: path, sha256: sha256, size: size, into: target, context: context)
            Self.removeSpool(path)
            return Loaded(
                name: name, key: key, size: size, sha256: sha256,
                checksumVerified: spooled["checksumVerified"] == "yes",
                skipped: skipped, scratchDatabase: target, contentCheck: checked["contentCheck"] ?? "")
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            Self.removeSpool(path)
            context.log("refused \(name): \(error.localizedDescription)")
            guard backup == nil else { throw error }
            context.log("streaming the backups older than \(name) as before")
            var loaded: Loaded
            do {
                loaded = try await stream(
                    backup: nil, before: before, olderThan: name, restorer: restorer, context: context)
            } catch let none as ScenarioError {
                guard case .noBackupFound = none else { throw none }
                throw error
            }
            loaded.skipped = skipped + ["\(name): \(error.localizedDescription)"] + loaded.skipped
            return loaded
        }
    }

    /// Removes a spool and the content record beside it.
    static func removeSpool(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: BackupContentRecord.sidecarPath(for: path))
    }
}
