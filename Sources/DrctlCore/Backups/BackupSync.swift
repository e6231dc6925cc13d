import Foundation

/// An off-site store with the key prefix backups live under, as the manifest names it.
public struct OffsiteTarget: Sendable {
    public var kind: OffsiteStoreKind
    public var store: any ObjectStore
    /// `postgresql/`; the local layout is mirrored below it: `postgresql/daily/<file>`, `postgresql/monthly/<file>`.
    public var prefix: String

    public init(kind: OffsiteStoreKind, store: any ObjectStore, prefix: String) {
        self.kind = kind
        self.store = store
        self.prefix = prefix
    }

    /// The manifest's S3 and Azure targets, S3 first, with the toolbox's configured stores.
    public static func targets(of toolbox: ScenarioToolbox) -> [OffsiteTarget] {
        var targets: [OffsiteTarget] = []
        let backups = toolbox.manifest.backups
        if let s3 = backups.s3, let store = toolbox.objectStores.first(where: { $0 is S3ObjectStore }) {
            targets.append(OffsiteTarget(kind: .s3, store: store, prefix: s3.prefix))
        }
        if let azure = backups.azure, let store = toolbox.objectStores.first(where: { $0 is AzureBlobObjectStore }) {
            targets.append(OffsiteTarget(kind: .azure, store: store, prefix: azure.prefix))
        }
        return targets
    }

    func key(for record: BackupRecord) -> String { Self.join(prefix, record.relativePath) }

    /// `<key>.sha256`: the checksum travels as a sidecar object in `sha256sum` format (`<hex>  <file>`), because
    /// both S3 and Azure keep plain objects alike, any tool (or a person with `sha256sum -c`) can read it, and a
    /// restore that only has the bucket can check what it downloads (`OffsiteBackupFetcher` reads it).
    static func sidecarKey(for key: String) -> String { key + ".sha256" }
    /// `<key>.record.json`: the backup's content record (`BackupContentRecord`), when it has one.
    static func recordKey(for key: String) -> String { key + BackupContentRecord.sidecarSuffix }

    static func join(_ prefix: String, _ path: String) -> String {
        if prefix.isEmpty { return path }
        return prefix.hasSuffix("/") ? prefix + path : prefix + "/" + path
    }
}

/// `drctl backup sync`: copies every local backup the catalog knows to each off-site store (the local layout
/// mirrored under the store's prefix, each with a `.sha256` sidecar), confirms size and checksum of every copy,
/// records the copies in the catalog, and reports copies missing, different, and objects off-site the catalog
/// does not know (extra: left alone, never deleted).
///
/// A copy confirmed before is trusted while its size and ETag in the listing are unchanged (a new ETag means it was
/// replaced: different); a copy not confirmed before is checked against its sidecar. A local file that failed verification, or whose bytes no longer match
/// the catalog, is not uploaded.
public struct BackupSync: Sendable {
    public var folder: BackupFolder
    public var targets: [OffsiteTarget]
    public var runner: any CommandRunning
    public var clock: any RunClock
    /// Where sidecar files are staged for upload and download.
    public var scratchDirectory: String

    public init(
        manifest: Manifest,
        targets: [OffsiteTarget],
        runner: any CommandRunning = CommandRunner(),
        clock: any RunClock = .system,
        scratchDirectory: String = FileManager.default.temporaryDirectory.path
    ) {
        self.folder = BackupFolder(manifest: manifest)
        self.targets = targets
        self.runner = runner
        self.clock = clock
        self.scratchDirectory = scratchDirectory
    }

    public func sync(dryRun: Bool) async throws -> BackupSyncReport {
        let scratch = (scratchDirectory as NSString).appendingPathComponent("drctl-sync-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(
                atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BackupError.fileNotWritten(path: scratch, reason: error.localizedDescription)
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var reports: [BackupSyncReport.StoreReport] = []
        for target in targets {
            reports.append(try await sync(target, dryRun: dryRun, scratch: scratch))
        }
        return BackupSyncReport(dryRun: dryRun, stores: reports)
    }

    private func sync(_ target: OffsiteTarget, dryRun: Bool, scratch: String) async throws
        -> BackupSyncReport.StoreReport
    {
        let store = target.store
        var report = BackupSyncReport.StoreReport(store: target.kind, location: store.displayName + "/" + target.prefix)
        let objects = try await listing(of: target)
        let byKey = Dictionary(objects.map { ($0.key, $0) }) { first, _ in first }
        let catalog = try folder.catalogStore.load()
        let files = try folder.files()
        var known: Set<String> = []
        var confirmed: [BackupRecord] = []

        for record in catalog.records {
            try Task.checkCancellation()
            let key = target.key(for: record)
            known.insert(key)
            known.insert(OffsiteTarget.sidecarKey(for: key))
            known.insert(OffsiteTarget.recordKey(for: key))
            guard let file = files.first(where: { $0.tier == record.tier && $0.fileName == record.fileName }) else {
                continue
            }
            let existing = byKey[key]
            if let existing, try await copyMatches(record: record, object: existing, target: target, scratch: scratch) {
                var updated = record
                updated.setCopy(copy(of: record, object: existing, target: target))
                confirmed.append(updated)
                report.inSync.append(record.relativePath)
                continue
            }
            let refusal = dryRun ? nil : try uploadRefusal(record: record, file: file)
            if dryRun || refusal != nil {
                if let refusal { report.notUploaded.append(.init(file: record.relativePath, reason: refusal)) }
                if existing == nil {
                    report.missing.append(record.relativePath)
                } else {
                    report.different.append(record.relativePath)
                }
                continue
            }
            let object = try await upload(record: record, file: file, key: key, target: target, scratch: scratch)
            var updated = record
            updated.setCopy(copy(of: record, object: object, target: target))
            confirmed.append(updated)
            report.uploaded.append(record.relativePath)
        }

        report.extra = objects.map(\.key).filter { !known.contains($0) }.sorted()
        if !confirmed.isEmpty {
            try folder.catalogStore.update { catalog throws(BackupError) in
                for record in confirmed {
                    // Keep the verification another process may have written meanwhile; only the copy is new.
                    guard var current = catalog.record(fileName: record.fileName, tier: record.tier),
                        let copy = record.copy(in: target.kind)
                    else { continue }
                    current.setCopy(copy)
                    catalog.upsert(current)
                }
            }
        }
        return report
    }

    /// What each store holds under its prefix, sidecars left out: the off-site side of `drctl backup list`.
    public func offsiteListings() async throws -> [OffsiteListing] {
        var listings: [OffsiteListing] = []
        for target in targets {
            let objects = try await listing(of: target).filter {
                !$0.key.hasSuffix(".sha256") && !$0.key.hasSuffix(BackupContentRecord.sidecarSuffix)
            }
            listings.append(
                OffsiteListing(
                    store: target.kind, location: target.store.displayName + "/" + target.prefix,
                    objects: objects.sorted { $0.key < $1.key }))
        }
        return listings
    }

    private func listing(of target: OffsiteTarget) async throws -> [StoredObject] {
        do {
            let result = try await runner.runChecked(target.store.list(prefix: target.prefix))
            return try target.store.parseList(result.standardOutput)
        } catch let failure as CommandFailure {
            throw BackupError.offsiteOperationFailed(
                store: target.store.displayName, detail: "listing failed: \(failure.localizedDescription)")
        } catch let error as ToolOutputError {
            throw BackupError.offsiteOperationFailed(
                store: target.store.displayName, detail: error.localizedDescription)
        }
    }

    /// Whether the object is this backup: same size, and either confirmed before for this checksum with the same
    /// ETag, or its sidecar names the catalog's checksum.
    private func copyMatches(record: BackupRecord, object: StoredObject, target: OffsiteTarget, scratch: String)
        async throws -> Bool
    {
        guard object.size == record.size else { return false }
        if let previous = record.copy(in: target.kind), previous.sha256 == record.sha256, let etag = previous.etag,
            let current = object.etag
        {
            // Confirmed before: a new ETag means the object was replaced since, whatever its sidecar says.
            return etag == current
        }
        return try await sidecarChecksum(key: object.key, target: target, scratch: scratch) == record.sha256
    }

    /// The checksum in `<key>.sha256`, nil when there is none.
    private func sidecarChecksum(key: String, target: OffsiteTarget, scratch: String) async throws -> String? {
        let path = (scratch as NSString).appendingPathComponent("download-\(UUID().uuidString).sha256")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let invocation = try target.store.download(OffsiteTarget.sidecarKey(for: key), to: .file(path))
        let result = try await runner.run(invocation)
        guard result.succeeded, let data = FileManager.default.contents(atPath: path) else { return nil }
        return SHA256Checksum.parseSidecar(String(decoding: data, as: UTF8.self))
    }

    /// Why this local file must not be copied off-site, nil when it may.
    private func uploadRefusal(record: BackupRecord, file: LocalBackupFile) throws -> String? {
        if let verification = record.verification {
            if verification.result == .failed {
                return "it failed verification (\(verification.failure ?? "see drctl backup verify"))"
            }
            if BackupVerifier.isUnchanged(file, record: record) { return nil }
        }
        let sha256: String
        do {
            sha256 = try SHA256Checksum.ofFile(atPath: file.path)
        } catch {
            return "it cannot be read: \(error.reason)"
        }
        return sha256 == record.sha256
            ? nil : "its SHA-256 no longer matches the catalog; run drctl backup verify"
    }

    private func upload(
        record: BackupRecord, file: LocalBackupFile, key: String, target: OffsiteTarget, scratch: String
    )
        async throws -> StoredObject
    {
        let store = target.store
        let sidecarPath = (scratch as NSString).appendingPathComponent(record.fileName + ".sha256")
        do {
            try Data(SHA256Checksum.sidecarText(sha256: record.sha256, fileName: record.fileName).utf8).write(
                to: URL(fileURLWithPath: sidecarPath))
        } catch {
            throw BackupError.fileNotWritten(path: sidecarPath, reason: error.localizedDescription)
        }
        do {
            try await runner.runChecked(try store.upload(.file(file.path), to: key))
            try await runner.runChecked(try store.upload(.file(sidecarPath), to: OffsiteTarget.sidecarKey(for: key)))
            let recordPath = BackupContentRecord.sidecarPath(for: file.path)
            if FileManager.default.fileExists(atPath: recordPath) {
                try await runner.runChecked(try store.upload(.file(recordPath), to: OffsiteTarget.recordKey(for: key)))
            }
            let head = try await runner.run(store.head(key))
            guard let object = try store.parseHead(head) else {
                throw BackupError.offsiteOperationFailed(
                    store: store.displayName, detail: "\(key) is not there right after its upload")
            }
            guard object.size == record.size else {
                throw BackupError.offsiteOperationFailed(
                    store: store.displayName,
                    detail: "\(key) has \(object.size) bytes after its upload, the local file \(record.size)")
            }
            return StoredObject(key: key, size: object.size, lastModified: object.lastModified, etag: object.etag)
        } catch let failure as CommandFailure {
            throw BackupError.offsiteOperationFailed(
                store: store.displayName,
                detail: "upload of \(record.relativePath) failed: \(failure.localizedDescription)")
        } catch let error as ObjectStoreError {
            throw BackupError.offsiteOperationFailed(store: store.displayName, detail: error.localizedDescription)
        }
    }

    private func copy(of record: BackupRecord, object: StoredObject, target: OffsiteTarget) -> OffsiteCopy {
        OffsiteCopy(
            store: target.kind,
            location: target.store.displayName + "/" + object.key,
            key: object.key,
            size: object.size,
            sha256: record.sha256,
            etag: object.etag,
            confirmedAt: clock.now())
    }
}

/// The objects of one off-site store under its prefix.
public struct OffsiteListing: Sendable, Codable {
    public var store: OffsiteStoreKind
    public var location: String
    public var objects: [StoredObject]
}

/// What `drctl backup sync` found and did, per store.
public struct BackupSyncReport: Sendable, Codable {
    public var dryRun: Bool
    public var stores: [StoreReport]

    /// Every local backup has a confirmed copy in every store.
    public var inSync: Bool { stores.allSatisfy { $0.missing.isEmpty && $0.different.isEmpty } }

    /// The error for a report that is not in sync; nil when it is. Extra objects alone are not an error.
    public var outOfSyncError: BackupError? {
        guard !inSync else { return nil }
        return .offsiteCopiesOutOfSync(
            missing: stores.map(\.missing.count).reduce(0, +),
            mismatched: stores.map(\.different.count).reduce(0, +),
            extra: stores.map(\.extra.count).reduce(0, +))
    }

    public struct StoreReport: Sendable, Codable {
        public var store: OffsiteStoreKind
        public var location: String
        /// Local paths (`daily/<file>`) copied up in this run.
        public var uploaded: [String] = []
        /// Local paths whose copy was already there with the same size and checksum.
        public var inSync: [String] = []
        /// Local paths with no copy off-site (after this run).
        public var missing: [String] = []
        /// Local paths whose copy off-site has another size or checksum (after this run).
        public var different: [String] = []
        /// Object keys under the prefix that the catalog does not know (pruned locally, or not drctl's).
        public var extra: [String] = []
        public var notUploaded: [Refusal] = []
    }

    public struct Refusal: Sendable, Codable {
        public var file: String
        public var reason: String
    }
}
