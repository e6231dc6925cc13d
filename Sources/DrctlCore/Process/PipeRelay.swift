import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The live side of a `PipelineTap`: copies one stage's output to the next stage's input, counting the bytes and
/// computing their SHA-256 on the way (or, for `PipelineTap.Role.psqlRestrictedMode`, writing them on through
/// `PsqlRestrictedScript` instead of measuring them). Owns both descriptors and closes them when it is done, so
/// the next stage sees end-of-file, or the stage before gets SIGPIPE when the next one stopped reading.
///
/// It waits in `poll` on its descriptors and on `stop`, so a cancelled or timed-out pipeline ends it at once even
/// while something outside the stages' process groups still holds a pipe end (a grandchild that left its group
/// would otherwise keep the relay reading until it exits).
struct PipeRelay: Sendable {
    var afterStage: Int
    /// The read end of the pipe the stage before writes into.
    var source: Int32
    /// The write end of the pipe the stage after reads from.
    var destination: Int32
    /// Keep reading once the destination stopped (see `PipelineTap.readsToEnd`).
    var readsToEnd = false
    /// Hold the first bytes until this check accepted them (see `PipelineTap.HeadHold`).
    var hold: PipelineTap.HeadHold?
    /// Measure the bytes, or run them through psql's restricted mode (see `PipelineTap.Role`).
    var role: PipelineTap.Role = .measure
    /// The read end of a `RelayStop`: readable (or hung up) once the relay must stop. -1: never stopped.
    var stop: Int32 = -1
    var chunkSize = PipeRelay.defaultChunkSize
    /// How much one read may bring (the relay's buffer).
    static let defaultChunkSize = 1 << 20

    /// Relays on a thread of its own: its reads and writes block, and must not hold one of the few threads of
    /// Swift's cooperative pool. Returns when the source closed or the destination stopped reading. With a
    /// `hold`, the first bytes are read (on that thread), checked (here), and only then written on.
    func run() async -> PipelineTap.Reading {
        guard let hold else { return await onThread { relay(head: Data()) } }
        let (head, ended, stopped) = await onThread { readHead(hold.bytes) }
        if stopped {
            // Cancelled or timed out while the head arrived: the stages' statuses say so; nothing was passed on.
            close(source)
            close(destination)
            return PipelineTap.Reading(
                afterStage: afterStage, byteCount: Int64(head.count), sha256: "", reachedEnd: false)
        }
        do {
            try await hold.check(head)
        } catch {
            close(source)
            close(destination)
            return PipelineTap.Reading(
                afterStage: afterStage, byteCount: Int64(head.count), sha256: "", reachedEnd: ended,
                refusal: PipelineTap.Refusal(error))
        }
        return await onThread { relay(head: head) }
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "drctl-pipeline-tap-\(afterStage)"
            thread.start()
        }
    }

    /// Reads up to `count` bytes of the source, or until it ends (`ended`) or the relay is told to stop
    /// (`stopped`); writes nothing and closes nothing.
    private func readHead(_ count: Int) -> (head: Data, ended: Bool, stopped: Bool) {
        var head = Data(count: count)
        var filled = 0
        var ended = false
        var stopped = false
        head.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < count {
                guard ready(source, for: Int16(POLLIN)) else {
                    stopped = true
                    return
                }
                let received = read(source, base + filled, count - filled)
                if received < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    ended = true
                    return
                }
                if received == 0 {
                    ended = true
                    return
                }
                filled += received
            }
        }
        head.count = filled
        return (head, ended, stopped)
    }

    /// Writes `head` (the held first bytes, already read) on, then relays the rest; closes both descriptors.
    private func relay(head: Data) -> PipelineTap.Reading {
        var destinationOpen = true
        defer {
            close(source)
            if destinationOpen { close(destination) }
        }
        var checksum = SHA256Checksum()
        // The key is made here, on the relay's thread, for this load only: it is in no pipeline, argv or log.
        var script = role == .psqlRestrictedMode ? PsqlRestrictedScript(key: PsqlRestrictedScript.freshKey()) : nil
        var count: Int64 = 0
        var reachedEnd = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else {
            return PipelineTap.Reading(afterStage: afterStage, byteCount: 0, sha256: "", reachedEnd: false)
        }
        // Never block in write(): a full pipe waits in poll, where a stop can reach it.
        _ = fcntl(destination, F_SETFL, fcntl(destination, F_GETFL) | O_NONBLOCK)
        /// Writes `bytes` on; false when the relay must stop (told to, or the destination stopped reading and the
        /// source need not be read to its end).
        func pass(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let start = bytes.baseAddress else { return true }
            var offset = 0
            while destinationOpen, offset < bytes.count {
                guard ready(destination, for: Int16(POLLOUT)) else { return false }
                let written = write(destination, start + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    // EPIPE: the next stage stopped reading; closing the source passes that on.
                    guard readsToEnd else { return false }
                    close(destination)
                    destinationOpen = false
                }
                offset += max(written, 0)
            }
            return true
        }
        /// Counts `bytes` and measures them, or hands them to the script's line surgery, and writes them on.
        func forward(_ bytes: UnsafeRawBufferPointer) -> Bool {
            count += Int64(bytes.count)
            if let passed = script?.consume(bytes, emit: pass) { return passed }
            checksum.update(bytes)
            return pass(bytes)
        }
        /// What went through; the digest only for a measuring tap.
        func reading() -> PipelineTap.Reading {
            PipelineTap.Reading(
                afterStage: afterStage, byteCount: count, sha256: script == nil ? checksum.finalize() : "",
                reachedEnd: reachedEnd)
        }
        if !head.isEmpty {
            guard head.withUnsafeBytes(forward) else { return reading() }
        }
        while true {
            guard ready(source, for: Int16(POLLIN)) else { break }
            let received = read(source, base, chunkSize)
            if received < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                break
            }
            if received == 0 {
                reachedEnd = true
                break
            }
            guard forward(UnsafeRawBufferPointer(start: base, count: received)) else { break }
        }
        // The script's held tail goes on once its source ended (not when the relay was stopped).
        if reachedEnd, destinationOpen { _ = script?.finish(emit: pass) }
        return reading()
    }

    /// Waits until `descriptor` is ready for `events` (or hung up, or in error: the read or write then says so);
    /// false when the relay was told to stop.
    private func ready(_ descriptor: Int32, for events: Int16) -> Bool {
        var watched = [
            pollfd(fd: descriptor, events: events, revents: 0), pollfd(fd: stop, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let count = poll(&watched, nfds_t(stop >= 0 ? 2 : 1), -1)
            if count < 0 {
                if errno == EINTR { continue }
                return true
            }
            if stop >= 0, watched[1].revents != 0 { return false }
            if watched[0].revents != 0 { return true }
        }
    }
}

/// Tells the relays of one pipeline to stop: a pipe whose write end is closed by `stop()`, which makes its read
/// end (each relay's `stop`) hang up. Released by its owner once every relay has returned.
final class RelayStop: Sendable {
    private let ends: (read: Int32, write: Int32)
    private let state = Mutex((stopped: false, closed: false))

    init() throws(CommandLaunchError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw CommandLaunchError.spawnFailed(
                commandLine: "(pipeline)", reason: "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.ends = (ends[0], ends[1])
    }

    var readEnd: Int32 { ends.read }

    /// Every relay of the pipeline returns from its wait at once.
    func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first { close(ends.write) }
    }

    /// Closes both ends; after every relay returned.
    func release() {
        stop()
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if first { close(ends.read) }
    }
}
