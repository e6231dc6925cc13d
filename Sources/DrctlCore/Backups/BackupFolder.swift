import Foundation

/// One file found in `daily/` or `monthly/` of the local backup folder, whatever it is.
public struct LocalBackupFile: Sendable, Hashable, Codable {
    public var tier: BackupTier
    public var fileName: String
    /// The absolute path.
    public var path: String
    public var size: Int64
    public var modifiedAt: Date
    /// False for folders, links and other things that are not plain files.
    public var isRegularFile: Bool

    public init(
        tier: BackupTier, fileName: String, path: String, size: Int64, modifiedAt: Date, isRegularFile: Bool = true
    ) {
        self.tier = tier
        self.fileName = fileName
        self.path = path
        self.size = size
        self.modifiedAt = modifiedAt
        self.isRegularFile = isRegularFile
    }

    /// The backup name, nil when the file is not named like a backup (or is not a plain file).
    public var name: BackupName? { isRegularFile ? BackupName(fileName: fileName) : nil }
    /// `daily/<file>`.
    public var relativePath: String { tier.rawValue + "/" + fileName }
}

/// The local backup folder of a manifest (`backups.local`): `daily/`, `monthly/` and `catalog.json`.
public struct BackupFolder: Sendable, Hashable {
    /// The absolute path of the folder.
    public var root: String

    public init(root: String) {
        self.root = root
    }

    public init(manifest: Manifest) {
        self.init(root: manifest.backups.local.absolute)
    }

    public var catalogStore: BackupCatalogStore { BackupCatalogStore(directory: root) }

    public func directory(_ tier: BackupTier) -> String {
        (root as NSString).appendingPathComponent(tier.rawValue)
    }

    public func path(_ tier: BackupTier, fileName: String) -> String {
        (directory(tier) as NSString).appendingPathComponent(fileName)
    }

    /// Creates `daily/` and `monthly/` (mode 0700: dumps hold every row of the database).
    public func prepare() throws(BackupError) {
        for tier in BackupTier.allCases {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory(tier), withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw .localFolderUnusable(path: directory(tier), reason: error.localizedDescription)
            }
        }
    }

    /// Every entry of `daily/` and `monthly/`, sorted by tier and name; a missing tier folder is empty. A
    /// backup's content record (`<backup>.record.json`) is not an entry of its own: it goes with its backup.
    public func files() throws(BackupError) -> [LocalBackupFile] {
        var files: [LocalBackupFile] = []
        for tier in BackupTier.allCases {
            let folder = directory(tier)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else { continue }
            guard isDirectory.boolValue else {
                throw .localFolderUnusable(path: folder, reason: "it is not a folder")
            }
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: folder)
            } catch {
                throw .localFolderUnusable(path: folder, reason: error.localizedDescription)
            }
            for name in names.sorted() where !name.hasSuffix(BackupContentRecord.sidecarSuffix) {
                if let file = try self.file(tier, fileName: name) { files.append(file) }
            }
        }
        return files
    }

    /// The entry `fileName` in `tier`, nil when there is none.
    public func file(_ tier: BackupTier, fileName: String) throws(BackupError) -> LocalBackupFile? {
        let path = path(tier, fileName: fileName)
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return nil }
            throw .localFolderUnusable(path: path, reason: error.localizedDescription)
        }
        let type = attributes[.type] as? FileAttributeType
        return LocalBackupFile(
            tier: tier,
            fileName: fileName,
            path: path,
            size: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
            modifiedAt: attributes[.modificationDate] as? Date ?? .distantPast,
            isRegularFile: type == .typeRegular
        )
    }
}
