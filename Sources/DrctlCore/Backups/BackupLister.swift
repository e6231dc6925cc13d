import Foundation

/// `drctl backup list`: every backup of the local folder with its age, size, last verification and off-site
/// copies (as the last `drctl backup sync` confirmed them), and the files drctl cannot account for.
public struct BackupLister: Sendable {
    public var folder: BackupFolder
    public var clock: any RunClock
    /// Checks each content record's signature (`backups.signingKey`); nil: shown as not checked.
    public var signingKey: SecretValue?

    public init(manifest: Manifest, clock: any RunClock = .system, signingKey: SecretValue? = nil) {
        self.folder = BackupFolder(manifest: manifest)
        self.clock = clock
        self.signingKey = signingKey
    }

    /// The local backups; with `offsite`, also what the off-site stores hold right now.
    public func list(offsite: BackupSync?) async throws -> BackupListing {
        var listing = try list()
        listing.offsite = try await offsite?.offsiteListings()
        return listing
    }

    public func list() throws -> BackupListing {
        let files = try folder.files()
        let catalog = try folder.catalogStore.load()
        let now = clock.now()
        let entries = catalog.records.map { record in
            let file = files.first { $0.tier == record.tier && $0.fileName == record.fileName }
            let content = file.flatMap {
                BackupContentRecord.describe(
                    besideBackupAt: $0.path, fileName: record.fileName, sha256: record.sha256, key: signingKey)
            }
            return BackupListing.Entry(
                file: record.fileName,
                tier: record.tier,
                takenAt: record.name.timestamp,
                ageSeconds: Int64(now.timeIntervalSince(record.name.timestamp).rounded(.down)),
                size: file?.size ?? record.size,
                sha256: record.sha256,
                present: file != nil,
                verification: record.verification?.result,
                verifiedAt: record.verification?.verifiedAt,
                failure: record.verification?.failure,
                copies: record.copies,
                content: content?.text ?? (file == nil ? nil : "no content record")
            )
        }
        let unaccounted = files.filter { $0.name == nil || catalog.record(fileName: $0.fileName, tier: $0.tier) == nil }
        return BackupListing(
            folder: folder.root, entries: entries.sorted { ($0.takenAt, $0.tier) > ($1.takenAt, $1.tier) },
            unaccounted: unaccounted.map(\.relativePath))
    }
}

/// What `drctl backup list` shows; newest first.
public struct BackupListing: Sendable, Codable {
    public var folder: String
    public var entries: [Entry]
    public var unaccounted: [String]
    /// What the off-site stores hold, when asked for (`--offsite`).
    public var offsite: [OffsiteListing]? = nil

    public struct Entry: Sendable, Codable {
        public var file: String
        public var tier: BackupTier
        public var takenAt: Date
        public var ageSeconds: Int64
        public var size: Int64
        public var sha256: String
        /// False when the catalog knows the backup but its file is gone from the folder.
        public var present: Bool
        public var verification: BackupVerification.Result?
        public var verifiedAt: Date?
        public var failure: String?
        public var copies: [OffsiteCopy]
        /// The content record's summary and signature (`BackupContentRecord.describe`), or `no content record`.
        public var content: String? = nil
    }
}
