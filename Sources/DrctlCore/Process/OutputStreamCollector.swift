import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Collects one output stream of a child process: a bounded copy of its bytes, the last lines (redacted), and
/// every complete line handed to the sink (redacted) as it arrives.
struct OutputStreamCollector: Sendable {
    /// Longer lines are cut into pieces of this size, so a child writing without newlines cannot grow memory.
    static let maximumLineLength = 16 * 1024

    let stream: OutputLine.Stream
    let command: String
    let redactor: Redactor
    let sink: OutputLineSink?
    /// How many bytes to keep; the rest is counted and dropped.
    let captureLimit: Int
    /// How many of the last lines to keep.
    let tailLimit: Int

    private(set) var captured = Data()
    private(set) var byteCount = 0
    private var pendingLine: [UInt8] = []
    private var tail: [String] = []
    /// Set: only lines beginning with one of these bytes are kept (in `captured`) and handed to the sink.
    private let keptPrefixes: [[UInt8]]?
    /// After this many bytes a line's beginning shows whether it is wanted.
    private let longestKeptPrefix: Int
    private var pendingLineUnwanted = false

    init(
        stream: OutputLine.Stream,
        command: String,
        redactor: Redactor,
        sink: OutputLineSink?,
        captureLimit: Int,
        tailLimit: Int,
        keepingLinesStartingWith prefixes: [String]? = nil
    ) {
        self.keptPrefixes = prefixes.map { $0.map { Array($0.utf8) } }
        self.longestKeptPrefix = prefixes?.map(\.utf8.count).max() ?? 0
        self.stream = stream
        self.command = command
        self.redactor = redactor
        self.sink = sink
        self.captureLimit = max(0, captureLimit)
        self.tailLimit = max(0, tailLimit)
    }

    private var splitsLines: Bool { sink != nil || tailLimit > 0 }

    /// The last lines, secrets redacted, joined by newlines.
    var tailText: String { tail.joined(separator: "\n") }

    mutating func consume(_ bytes: UnsafeRawBufferPointer) {
        if keptPrefixes != nil { return keepLines(bytes) }
        byteCount += bytes.count
        if captured.count < captureLimit {
            captured.append(contentsOf: bytes.prefix(captureLimit - captured.count))
        }
        guard splitsLines else { return }
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            pendingLine.append(contentsOf: bytes[start..<(newline ?? bytes.endIndex)])
            while pendingLine.count > Self.maximumLineLength {
                emit(Array(pendingLine.prefix(Self.maximumLineLength)))
                pendingLine.removeFirst(Self.maximumLineLength)
            }
            guard let newline else { break }
            emitPendingLine()
            start = newline + 1
        }
    }

    /// Emits a last line that had no newline.
    mutating func finish() {
        if keptPrefixes != nil {
            keepPendingLine()
            return
        }
        if !pendingLine.isEmpty { emitPendingLine() }
    }

    /// The `keepingLinesStartingWith` reading: a line's first bytes are held until they show it is not wanted
    /// (then the rest of it is skipped) or until its newline; a wanted line is held up to `maximumLineLength`.
    /// Nothing else stays in memory, whatever the stream's size.
    private mutating func keepLines(_ bytes: UnsafeRawBufferPointer) {
        byteCount += bytes.count
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
            let end = found.map { $0 - UnsafeMutableRawPointer(mutating: base) } ?? bytes.count
            if !pendingLineUnwanted {
                let room = Self.maximumLineLength - pendingLine.count
                if room > 0 { pendingLine.append(contentsOf: bytes[start..<min(end, start + room)]) }
                if pendingLine.count >= longestKeptPrefix, !isWanted(pendingLine) {
                    pendingLineUnwanted = true
                    pendingLine.removeAll(keepingCapacity: true)
                }
            }
            guard found != nil else { break }
            keepPendingLine()
            start = end + 1
        }
    }

    private func isWanted(_ line: [UInt8]) -> Bool {
        keptPrefixes?.contains { line.starts(with: $0) } ?? true
    }

    private mutating func keepPendingLine() {
        defer {
            pendingLine.removeAll(keepingCapacity: true)
            pendingLineUnwanted = false
        }
        guard !pendingLineUnwanted, isWanted(pendingLine) else { return }
        if captured.count + pendingLine.count + 1 <= captureLimit {
            captured.append(contentsOf: pendingLine)
            captured.append(UInt8(ascii: "\n"))
        }
        emit(pendingLine)
    }

    private mutating func emitPendingLine() {
        emit(pendingLine)
        pendingLine.removeAll(keepingCapacity: true)
    }

    private mutating func emit(_ bytes: [UInt8]) {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        text = redactor.redact(text)
        sink?(OutputLine(command: command, stream: stream, text: text))
        guard tailLimit > 0 else { return }
        tail.append(text)
        if tail.count > tailLimit { tail.removeFirst(tail.count - tailLimit) }
    }
}
