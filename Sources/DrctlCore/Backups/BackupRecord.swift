import Foundation

/// What the catalog knows about one backup file in one tier.
///
/// The same dump kept in `daily/` and `monthly/` has two records (one per file): each file is verified, pruned and
/// copied off-site on its own.
public struct BackupRecord: Sendable, Hashable, Codable {
    public var name: BackupName
    public var tier: BackupTier
    /// The file's size in bytes when it was written.
    public var size: Int64
    /// Lowercase hex SHA-256 of the file's bytes (the compressed file), computed when it was written.
    public var sha256: String
    public var createdAt: Date
    /// The last verification, nil until the file has been verified.
    public var verification: BackupVerification?
    /// Off-site copies, at most one per store.
    public var copies: [OffsiteCopy]
    /// What the dump holds (`BackupContentRecord`); nil for a backup drctl did not take or an older drctl took.
    public var content: BackupContentRecord?

    public init(
        name: BackupName,
        tier: BackupTier,
        size: Int64,
        sha256: String,
        createdAt: Date,
        verification: BackupVerification? = nil,
        copies: [OffsiteCopy] = [],
        content: BackupContentRecord? = nil
    ) {
        self.name = name
        self.tier = tier
        self.size = size
        self.sha256 = sha256
        self.createdAt = createdAt
        self.verification = verification
        self.copies = copies
        self.content = content
    }

    public var fileName: String { name.fileName }
    /// `daily/valeo_erp_backup_20251009_020000.sql.gz`, relative to the local backup folder (and the off-site prefix).
    public var relativePath: String { tier.rawValue + "/" + name.fileName }
    /// Whether the last verification passed.
    public var isVerified: Bool { verification?.result == .passed }

    public func copy(in store: OffsiteStoreKind) -> OffsiteCopy? {
        copies.first { $0.store == store }
    }

    public mutating func setCopy(_ copy: OffsiteCopy) {
        copies.removeAll { $0.store == copy.store }
        copies.append(copy)
        copies.sort { $0.store < $1.store }
    }
}

/// The outcome of the last verification of one backup file.
public struct BackupVerification: Sendable, Hashable, Codable {
    public enum Result: String, Sendable, Hashable, Codable {
        case passed
        case failed
    }

    public var result: Result
    /// Why it failed; nil when it passed.
    public var failure: String?
    /// When the file's bytes were last read and checked (`gzip -t`, checksum). An incremental verify of an
    /// unchanged file does not move it.
    public var verifiedAt: Date
    /// When the file was last looked at, read or not.
    public var checkedAt: Date
    /// The file's size and modification time when its bytes were read: an incremental verify trusts the earlier
    /// result only while both are unchanged.
    public var fileSize: Int64
    public var fileModifiedAt: Date
    /// The checksum the bytes had when they passed; an incremental verify trusts the result only while the
    /// catalog still records this checksum.
    public var sha256: String?

    public init(
        result: Result,
        failure: String? = nil,
        verifiedAt: Date,
        checkedAt: Date? = nil,
        fileSize: Int64,
        fileModifiedAt: Date,
        sha256: String? = nil
    ) {
        self.result = result
        self.failure = failure
        self.verifiedAt = verifiedAt
        self.checkedAt = checkedAt ?? verifiedAt
        self.fileSize = fileSize
        self.fileModifiedAt = fileModifiedAt
        self.sha256 = sha256
    }
}

/// Which kind of off-site store holds a copy.
public enum OffsiteStoreKind: String, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case s3
    case azure

    public var description: String { rawValue }

    public static func < (lhs: OffsiteStoreKind, rhs: OffsiteStoreKind) -> Bool {
        lhs == .s3 && rhs == .azure
    }
}

/// One off-site copy of a backup file, as the last `drctl backup sync` confirmed it.
public struct OffsiteCopy: Sendable, Hashable, Codable {
    public var store: OffsiteStoreKind
    /// `s3://valeo-backups/postgresql/daily/valeo_erp_backup_20251009_020000.sql.gz`.
    public var location: String
    /// The object's key in its bucket or container.
    public var key: String
    public var size: Int64
    /// The SHA-256 read back from the copy's `.sha256` sidecar object.
    public var sha256: String
    /// The store's ETag (for S3 single-part uploads the MD5 of the bytes; otherwise opaque).
    public var etag: String?
    /// When a sync last confirmed size and checksum.
    public var confirmedAt: Date

    public init(
        store: OffsiteStoreKind,
        location: String,
        key: String,
        size: Int64,
        sha256: String,
        etag: String? = nil,
        confirmedAt: Date
    ) {
        self.store = store
        self.location = location
        self.key = key
        self.size = size
        self.sha256 = sha256
        self.etag = etag
        self.confirmedAt = confirmedAt
    }
}
