import Crypto
import Foundation

/// SHA-256 as lowercase hex, fed in chunks so a multi-gigabyte backup is never held in memory.
/// The one checksum helper: backups, off-site copies and streamed restores all use it.
public struct SHA256Checksum {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ data: Data) {
        hasher.update(data: data)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// The hex digest of everything fed so far.
    public func finalize() -> String {
        Self.hex(hasher.finalize())
    }

    /// The hex SHA-256 of `data`.
    public static func of(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// The hex SHA-256 of the file at `path`, read in chunks of `chunkSize` bytes.
    public static func ofFile(atPath path: String, chunkSize: Int = 1 << 20) throws(ChecksumError) -> String {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            throw ChecksumError(path: path, reason: error.localizedDescription)
        }
        defer { try? handle.close() }
        var checksum = SHA256Checksum()
        do {
            while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
                checksum.update(chunk)
            }
        } catch {
            throw ChecksumError(path: path, reason: error.localizedDescription)
        }
        return checksum.finalize()
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// A file whose checksum could not be computed because it could not be read.
public struct ChecksumError: Error, Sendable, Hashable, LocalizedError {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var errorDescription: String? {
        "could not read \(path) to compute its SHA-256: \(reason). Check that it exists and is readable by this user."
    }
}

extension SHA256Checksum {
    /// A `.sha256` sidecar's text for `fileName`: `<hex>  <name>` and a newline, as `sha256sum` writes it (and
    /// `parseSidecar` reads it).
    public static func sidecarText(sha256: String, fileName: String) -> String { "\(sha256)  \(fileName)\n" }

    /// The hex digest in a `.sha256` sidecar (`<hex>  <name>` as `sha256sum` writes it, or a bare digest);
    /// nil when the text holds no 64-digit hex word first.
    public static func parseSidecar(_ text: String) -> String? {
        guard let word = text.split(whereSeparator: \.isWhitespace).first else { return nil }
        let hex = word.lowercased()
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else { return nil }
        return hex
    }
}

extension ChecksumError: ClassifiedError {
    public var failureKind: FailureKind { .failed }
}
