/// Which folder of the local backup location a backup lives in; the raw value is the folder's name.
public enum BackupTier: String, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// `daily/`: every backup `drctl backup create` writes.
    case daily
    /// `monthly/`: the first backup of each UTC month, kept longer.
    case monthly

    public var description: String { rawValue }

    public static func < (lhs: BackupTier, rhs: BackupTier) -> Bool {
        lhs == .daily && rhs == .monthly
    }
}
