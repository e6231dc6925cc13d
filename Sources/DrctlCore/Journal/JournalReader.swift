import Foundation

/// What reading a journal found: the verified records, and a torn last line if the writer died mid-write.
public struct JournalReadResult: Sendable {
    public var records: [JournalRecord]
    /// The bytes after the last complete line (the writer was killed while writing them), as text. Reported,
    /// never parsed: a half-written record must not be mistaken for a whole one.
    public var tornTail: String?
    /// Bytes up to and including the last complete line; appending resumes here.
    public var validLength: Int
    /// SHA-256 (hex) of the last complete line: the `prev` of the next record.
    public var lastLineHash: String?

    public var header: RunHeader? { records.first?.run }
}

/// Parses and verifies a journal: every complete line must be a record, and every record's `prev` must be the
/// hash of the line before it.
public enum JournalReader {
    public static func read(_ data: Data, path: String) throws(JournalError) -> JournalReadResult {
        var records: [JournalRecord] = []
        var previousHash: String?
        var lineStart = data.startIndex
        var lineNumber = 0
        let decoder = JournalCoding.decoder
        while let newline = data[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            lineNumber += 1
            let line = data[lineStart..<newline]
            lineStart = data.index(after: newline)
            if line.isEmpty { throw .corruptLine(path: path, line: lineNumber, detail: "empty line") }
            let record: JournalRecord
            do { record = try decoder.decode(JournalRecord.self, from: line) } catch {
                throw .corruptLine(path: path, line: lineNumber, detail: "not a journal record")
            }
            if record.prev != previousHash { throw .brokenHashChain(path: path, line: lineNumber) }
            if lineNumber == 1, record.type != .runStarted || record.run == nil {
                throw .corruptLine(path: path, line: 1, detail: "the first record must be run-started")
            }
            previousHash = Fingerprint.of(Data(line))
            records.append(record)
        }
        let tail = data[lineStart...]
        return JournalReadResult(
            records: records,
            tornTail: tail.isEmpty ? nil : String(decoding: tail, as: UTF8.self),
            validLength: data.distance(from: data.startIndex, to: lineStart),
            lastLineHash: previousHash
        )
    }
}
