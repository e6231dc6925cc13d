import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns SIGINT and SIGTERM into cancellation of the run task: the running steps are cancelled (the live runner
/// signals their process groups), the journal records the interruption, and the command exits 4 ("resumable").
/// A second signal exits at once with status 4; the journal is still consistent, the lock is then stale.
public final class SignalCancellation: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let signals: [Int32]

    /// Starts listening; `onFirstSignal` runs once, on a background queue.
    public init(
        signals: [Int32] = [SIGINT, SIGTERM], onFirstSignal: @escaping @Sendable (Int32) -> Void
    ) {
        self.signals = signals
        var made: [any DispatchSourceSignal] = []
        let count = SignalCount()
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let seen = count.increment()
                if seen == 1 {
                    onFirstSignal(number)
                } else {
                    exit(4)
                }
            }
            source.resume()
            made.append(source)
        }
        sources = Mutex(made)
    }

    /// Stops listening and restores the default signal handling.
    public func stop() {
        let sources = self.sources.withLock { sources in
            defer { sources = [] }
            return sources
        }
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }

    /// Runs `body` in a task that SIGINT/SIGTERM cancel.
    /// - Parameter notice: called on the first signal (e.g. to print "stopping…").
    public static func run<T: Sendable>(
        notice: @escaping @Sendable (Int32) -> Void = { _ in }, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let task = Task { try await body() }
        let cancellation = SignalCancellation { number in
            notice(number)
            task.cancel()
        }
        defer { cancellation.stop() }
        return try await task.value
    }
}

private final class SignalCount: Sendable {
    private let value = Mutex(0)
    func increment() -> Int {
        value.withLock { value in
            value += 1
            return value
        }
    }
}
