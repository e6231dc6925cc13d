import Foundation

/// A SQL script on its way into psql in psql's restricted mode (`\restrict KEY`, psql 13.22, 14.19, 15.14, 16.10,
/// 17.6, 18 and later): drctl writes `\restrict K` first, with a fresh random key K that exists only in the
/// relay, so psql refuses every later backslash command (`\!`, `\connect`, `\o`, `\copy … program`, …) of the
/// script ("backslash commands are restricted; only \unrestrict is allowed") and, with `ON_ERROR_STOP`, stops
/// with exit 3. A backup can then never make psql run a shell command or reconnect, wherever in the stream it
/// hides one, even before its checksum is judged.
///
/// pg_dump 15.14 and later write their own `\restrict X` near the top of a plain dump and `\unrestrict X` at its
/// very end; with K in force psql would refuse the first, so the line surgery drops them: the `\restrict X` line
/// when it is the first line of the head that is neither blank nor a `--` comment (pg_dump writes it after its
/// comment header), and then the last `\unrestrict X` line with that same X in the script's last `tailBytes`
/// (held back until the stream ended): pg_dump's last line, or the one before a few statements appended after
/// it. Any other `\restrict` or `\unrestrict` stays in the stream and fails in psql. A dump without the line (an
/// older pg_dump) loads as it is, restricted.
///
/// Per byte the relay only passes buffers on: the head is searched until its first statement (at most
/// `headLimit` bytes), and the tail is a copy of `tailBytes` per read.
struct PsqlRestrictedScript {
    /// How far into the stream the dump's own `\restrict` line is looked for.
    static let headLimit = 64 << 10
    /// How much of the stream's end is held back until the source ended, for its final `\unrestrict` line.
    static let tailBytes = 4 << 10
    /// The longest line taken for pg_dump's `\restrict` (whose key is 64 characters).
    static let lineLimit = 1 << 10

    private let key: String
    private let headLimit: Int
    private let tailBytes: Int
    /// The stream's first bytes while the dump's own `\restrict` line is looked for; nil once it was decided.
    private var head: [UInt8]? = []
    /// The key of the dump's own `\restrict` line, dropped from the head; nil when there was none.
    private(set) var droppedKey: [UInt8]?
    /// The last bytes, not yet written on.
    private var tail: [UInt8] = []
    private var startedWriting = false

    /// `key`: the relay's own, fresh for each load (`freshKey()`).
    init(key: String, headLimit: Int = Self.headLimit, tailBytes: Int = Self.tailBytes) {
        self.key = key
        self.headLimit = max(1, headLimit)
        self.tailBytes = max(1, tailBytes)
    }

    /// 32 bytes from the system's CSPRNG (`SystemRandomNumberGenerator`: getrandom(2) on Linux), in hex.
    static func freshKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Takes the next bytes of the stream and writes on (`emit`) what can go; false when `emit` said stop.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard start(emit: emit) else { return false }
        guard head != nil else { return hold(bytes, emit: emit) }
        head?.append(contentsOf: bytes)
        guard let decided = decideHead(ended: false) else { return true }
        return decided.withUnsafeBytes { hold($0, emit: emit) }
    }

    /// The stream ended: writes on what was held, without the dump's final `\unrestrict` line.
    mutating func finish(emit: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard start(emit: emit) else { return false }
        if head != nil, let decided = decideHead(ended: true) {
            guard decided.withUnsafeBytes({ hold($0, emit: emit) }) else { return false }
        }
        if let droppedKey { dropFinalUnrestrict(droppedKey) }
        defer { tail = [] }
        return tail.withUnsafeBytes { emit($0) }
    }

    /// `\restrict K` goes first, before any byte of the stream.
    private mutating func start(emit: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard !startedWriting else { return true }
        startedWriting = true
        return Array("\\restrict \(key)\n".utf8).withUnsafeBytes { hold($0, emit: emit) }
    }

    /// Writes on all but the last `tailBytes` of what was held and `bytes`, and holds those.
    private mutating func hold(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        let total = tail.count + bytes.count
        guard total > tailBytes else {
            tail.append(contentsOf: bytes)
            return true
        }
        let out = total - tailBytes
        let fromTail = min(out, tail.count)
        if fromTail > 0 {
            guard tail.withUnsafeBytes({ emit(UnsafeRawBufferPointer(rebasing: $0.prefix(fromTail))) }) else {
                return false
            }
        }
        let fromBytes = out - fromTail
        if fromBytes > 0 {
            guard emit(UnsafeRawBufferPointer(rebasing: bytes.prefix(fromBytes))) else { return false }
        }
        tail.removeFirst(fromTail)
        tail.append(contentsOf: bytes.suffix(from: fromBytes))
        return true
    }

    /// The head to write on once it is known whether it holds the dump's own `\restrict` line (without that
    /// line, whose key is kept in `droppedKey`); nil while that cannot be told yet. It is looked for only in a line
    /// that starts within `headLimit` bytes and is at most `lineLimit` long.
    private mutating func decideHead(ended: Bool) -> [UInt8]? {
        guard var bytes = head else { return nil }
        var start = 0
        while start < headLimit {
            guard start < bytes.count else {
                if ended { break }
                return nil
            }
            guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? (ended ? bytes.count : nil) else {
                // The line is not complete yet: wait for its end, unless it is too long to be pg_dump's.
                if bytes.count - start <= Self.lineLimit { return nil }
                break
            }
            let line = bytes[start..<end]
            if Self.isBlankOrComment(line) {
                start = end + 1
                continue
            }
            if line.count <= Self.lineLimit, let key = Self.argument(of: "\\restrict", in: line) {
                droppedKey = key
                bytes.removeSubrange(start..<min(end + 1, bytes.count))
            }
            break
        }
        head = nil
        return bytes
    }

    /// Drops the held tail's last `\unrestrict` line with the dump's own key: pg_dump's last line, or the one
    /// before a few statements appended after it (the content check or psql then judges those, in restricted
    /// mode). Dropping it never lifts anything: drctl's own key is in force either way.
    private mutating func dropFinalUnrestrict(_ dumpKey: [UInt8]) {
        var end = tail.count
        // A line counts only when it starts inside the held tail (`\restrict K\n` precedes the stream's lines).
        while let newline = tail[..<end].lastIndex(of: UInt8(ascii: "\n")) {
            var contentEnd = end
            while contentEnd > newline + 1, Self.isWhitespace(tail[contentEnd - 1]) { contentEnd -= 1 }
            if Self.argument(of: "\\unrestrict", in: tail[(newline + 1)..<contentEnd]) == dumpKey {
                let lineEnd = tail[end...].first == UInt8(ascii: "\n") ? end + 1 : end
                tail.removeSubrange((newline + 1)..<lineEnd)
                return
            }
            end = newline
        }
    }

    /// `line` is `COMMAND KEY` (spaces or tabs between, trailing spaces and `\r` allowed) with an alphanumeric
    /// key, as pg_dump writes and accepts them: the key; nil otherwise.
    static func argument(of command: String, in line: ArraySlice<UInt8>) -> [UInt8]? {
        let name = Array(command.utf8)
        guard line.starts(with: name) else { return nil }
        var rest = line.dropFirst(name.count)
        guard let first = rest.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") else { return nil }
        rest = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        while let last = rest.last, isWhitespace(last) { rest = rest.dropLast() }
        let isAlphanumeric = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard !rest.isEmpty, rest.allSatisfy(isAlphanumeric) else { return nil }
        return Array(rest)
    }

    private static func isBlankOrComment(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy(isWhitespace) || line.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")])
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }
}

extension PsqlRestrictedScript: CustomStringConvertible {
    /// Never the key.
    var description: String { "PsqlRestrictedScript(key: <redacted>)" }
}
