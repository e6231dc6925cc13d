import Foundation

/// Every backup drctl wrote into one local backup folder, with checksum, verification and off-site copies:
/// the `catalog.json` file beside `daily/` and `monthly/`.
///
/// A file in the folder that has no record here was not written by drctl (or its record was lost); drctl
/// reports such files and never deletes them.
public struct BackupCatalog: Sendable, Hashable, Codable {
    /// The catalog's file name in the local backup folder.
    public static let fileName = "catalog.json"
    static let currentFormat = 1

    /// The catalog's schema version; a newer one than this drctl knows is refused, not overwritten.
    public var format: Int
    /// Sorted by tier, then name.
    public private(set) var records: [BackupRecord]

    public init(records: [BackupRecord] = []) {
        self.format = Self.currentFormat
        self.records = []
        for record in records { upsert(record) }
    }

    /// The record of `fileName` in `tier`, if any.
    public func record(fileName: String, tier: BackupTier) -> BackupRecord? {
        records.first { $0.tier == tier && $0.fileName == fileName }
    }

    /// Adds the record, replacing the one of the same file in the same tier.
    public mutating func upsert(_ record: BackupRecord) {
        records.removeAll { $0.tier == record.tier && $0.name == record.name }
        let index = records.firstIndex { ($0.tier, $0.name) > (record.tier, record.name) } ?? records.endIndex
        records.insert(record, at: index)
    }

    /// Removes the record of `fileName` in `tier`; returns it.
    @discardableResult
    public mutating func remove(fileName: String, tier: BackupTier) -> BackupRecord? {
        guard let index = records.firstIndex(where: { $0.tier == tier && $0.fileName == fileName }) else {
            return nil
        }
        return records.remove(at: index)
    }

    /// The newest backup; with `verified`, the newest whose last verification passed. When the same dump is in
    /// `daily/` and `monthly/`, the daily record is returned.
    public func latest(verified: Bool) -> BackupRecord? {
        newestFirst(verified: verified).first
    }

    /// The newest backup taken strictly before `date` (by the time in its name), as needed to recover rows
    /// deleted at `date`; with `verified`, only backups whose last verification passed.
    public func latest(before date: Date, verified: Bool = false) -> BackupRecord? {
        newestFirst(before: date, verified: verified).first
    }

    /// Every backup, newest first, one record per dump (the daily one when it is in `daily/` and `monthly/`):
    /// the candidates a restore tries in turn. `before` and `verified` filter as in `latest`.
    public func newestFirst(before date: Date? = nil, verified: Bool = false) -> [BackupRecord] {
        let candidates = records.filter { record in
            (date.map { record.name.timestamp < $0 } ?? true) && (!verified || record.isVerified)
        }
        var seen = Set<BackupName>()
        return candidates.sorted { lhs, rhs in
            if lhs.name != rhs.name { return lhs.name > rhs.name }
            return lhs.tier < rhs.tier
        }
        .filter { seen.insert($0.name).inserted }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(Int.self, forKey: .format)
        records = []
        // Through `upsert`, so a hand-edited catalog is sorted and holds one record per file again.
        for record in try container.decode([BackupRecord].self, forKey: .records) { upsert(record) }
    }
}
