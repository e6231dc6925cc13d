import Foundation

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

    init(
        stream: OutputLine.Stream,
        command: String,
        redactor: Redactor,
        sink: OutputLineSink?,
        captureLimit: Int,
        tailLimit: Int
    ) {
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
        if !pendingLine.isEmpty { emitPendingLine() }
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
