import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The live side of a `PipelineTap`: copies one stage's output to the next stage's input, counting the bytes and
/// computing their SHA-256 on the way. Owns both descriptors and closes them when it is done, so the next stage
/// sees end-of-file, or the stage before gets SIGPIPE when the next one stopped reading.
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
    /// The read end of a `RelayStop`: readable (or hung up) once the relay must stop. -1: never stopped.
    var stop: Int32 = -1
    var chunkSize = 1 << 20

    /// Relays on a thread of its own: its reads and writes block, and must not hold one of the few threads of
    /// Swift's cooperative pool. Returns when the source closed or the destination stopped reading.
    func run() async -> PipelineTap.Reading {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: relay()) }
            thread.name = "drctl-pipeline-tap-\(afterStage)"
            thread.start()
        }
    }

    private func relay() -> PipelineTap.Reading {
        var destinationOpen = true
        defer {
            close(source)
            if destinationOpen { close(destination) }
        }
        var checksum = SHA256Checksum()
        var count: Int64 = 0
        var reachedEnd = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else {
            return PipelineTap.Reading(afterStage: afterStage, byteCount: 0, sha256: "", reachedEnd: false)
        }
        // Never block in write(): a full pipe waits in poll, where a stop can reach it.
        _ = fcntl(destination, F_SETFL, fcntl(destination, F_GETFL) | O_NONBLOCK)
        relaying: while true {
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
            checksum.update(UnsafeRawBufferPointer(start: base, count: received))
            count += Int64(received)
            var offset = 0
            while destinationOpen, offset < received {
                guard ready(destination, for: Int16(POLLOUT)) else { break relaying }
                let written = write(destination, base + offset, received - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    // EPIPE: the next stage stopped reading; closing the source passes that on.
                    guard readsToEnd else { break relaying }
                    close(destination)
                    destinationOpen = false
                }
                offset += max(written, 0)
            }
        }
        return PipelineTap.Reading(
            afterStage: afterStage, byteCount: count, sha256: checksum.finalize(), reachedEnd: reachedEnd)
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
