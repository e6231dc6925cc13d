import ArgumentParser
import DrctlCore
import Foundation

/// A hidden measure for the benchmark (`scripts/bench`, P5): how fast drctl's tap hashes and relays a stream.
struct TapRateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tap-rate",
        abstract: "Measure the stream tap's SHA-256 and relay rate on one core (for scripts/bench P5).",
        discussion: """
            Hashes --bytes zeros with the SHA-256 the tap uses, in the tap's buffer size, and then streams \
            --bytes zeros through the tap in a real pipeline (head -c N /dev/zero | (sha256 and byte count in \
            drctl) | cat). Prints one JSON object: CPU seconds and MB per CPU second of each (drctl's own CPU, \
            so a loaded machine stretches the wall time, not the rate). Touches nothing.

            Example:
              drctl tap-rate --bytes 2GiB
            """,
        shouldDisplay: false
    )

    @Option(help: "How many bytes to hash and to stream (e.g. 512MiB, 2GiB).")
    var bytes: String = "1GiB"

    func run() async throws {
        guard let size = ByteSize(parsing: bytes), size.bytes > 0 else {
            throw ValidationError("--bytes takes a size such as 512MiB or 2GiB, not '\(bytes)'")
        }
        let report = try await TapThroughput.measure(bytes: size.bytes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        StandardStreams.out(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
