import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The live side of a `PipelineTap`: copies one stage's output to the next stage's input, counting the bytes and
/// computing their SHA-256 on the way. Owns both descriptors and closes them when it is done, so the next stage
/// sees end-of-file, or the stage before gets SIGPIPE when the next one stopped reading.
struct PipeRelay: Sendable {
    var afterStage: Int
    /// The read end of the pipe the stage before writes into.
    var source: Int32
    /// The write end of the pipe the stage after reads from.
    var destination: Int32
    /// Keep reading once the destination stopped (see `PipelineTap.readsToEnd`).
    var readsToEnd = false
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
        relaying: while true {
            let received = read(source, base, chunkSize)
            if received < 0 {
                if errno == EINTR { continue }
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
                let written = write(destination, base + offset, received - offset)
                if written < 0 {
                    if errno == EINTR { continue }
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
}
