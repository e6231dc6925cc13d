import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How fast drctl's tap works on this machine (issue 17, P5: "the in-stream SHA-256 runs at ≥ 1 GB/s on one
/// core"), measured in CPU seconds of drctl itself, so a loaded machine slows the wall clock but not the rate:
///
/// - `hash`: `SHA256Checksum.update` (swift-crypto) over one buffer of the relay's chunk size, as the tap calls
///   it, on one thread (its CPU time);
/// - `relay`: the tap in a real pipeline through `CommandRunner`, `head -c N /dev/zero | (sha256 and byte count in
///   drctl) | cat`, as a restore streams (drctl's own CPU time: poll, read, hash, write; the children's is not
///   counted).
public enum TapThroughput {
    public struct Report: Sendable, Codable {
        public var bytes: Int64
        /// Bytes per `update` call in the hash-only measure (the relay's buffer size).
        public var chunkBytes: Int
        public var hashCPUSeconds: Double
        public var hashMegabytesPerCPUSecond: Double
        public var relayCPUSeconds: Double
        public var relayWallSeconds: Double
        public var relayMegabytesPerCPUSecond: Double
        /// The relay's digest of the zeros it read (a check that every byte went through).
        public var relaySHA256: String
    }

    /// Hashes `bytes` zeros in `chunk`-sized `update` calls; returns the thread's CPU seconds.
    public static func hashCPUSeconds(bytes: Int64, chunk: Int) -> Double {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        var checksum = SHA256Checksum()
        let started = threadCPUSeconds()
        var left = bytes
        while left > 0 {
            let count = Int(min(Int64(chunk), left))
            checksum.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            left -= Int64(count)
        }
        _ = checksum.finalize()
        return threadCPUSeconds() - started
    }

    /// Both measures over `bytes` bytes.
    public static func measure(bytes: Int64, runner: CommandRunner = CommandRunner()) async throws -> Report {
        let chunk = PipeRelay.defaultChunkSize
        let hash = await withCheckedContinuation { continuation in
            // Its own thread: the CPU clock read is that thread's, and the cooperative pool is not held.
            let thread = Thread { continuation.resume(returning: hashCPUSeconds(bytes: bytes, chunk: chunk)) }
            thread.start()
        }
        let source = CommandInvocation("head", ["-c", String(bytes), "/dev/zero"])
        let pipeline = CommandPipeline(
            [source, CommandInvocation("cat")], output: .discard, taps: [PipelineTap(afterStage: 0)])
        let cpuBefore = processCPUSeconds()
        let started = ContinuousClock.now
        let result = try await runner.run(pipeline).checked()
        let wall = ContinuousClock.now - started
        let relayCPU = processCPUSeconds() - cpuBefore
        guard let reading = result.taps.first, reading.byteCount == bytes, reading.reachedEnd else {
            throw CommandLaunchError.spawnFailed(
                commandLine: pipeline.redactedCommandLine,
                reason: "the tap read \(result.taps.first?.byteCount ?? 0) of \(bytes) bytes")
        }
        let megabytes = Double(bytes) / 1e6
        return Report(
            bytes: bytes, chunkBytes: chunk, hashCPUSeconds: hash, hashMegabytesPerCPUSecond: megabytes / hash,
            relayCPUSeconds: relayCPU,
            relayWallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18,
            relayMegabytesPerCPUSecond: megabytes / relayCPU, relaySHA256: reading.sha256)
    }

    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// drctl's own user and system CPU time (its children's not counted).
    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ value: timeval) -> Double { Double(value.tv_sec) + Double(value.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
