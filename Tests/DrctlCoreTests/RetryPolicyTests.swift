import DrctlCore
import Foundation
import Synchronization
import Testing

/// drctl's one retry policy: the waits between tries, what is retried, and where it stops.
@Suite("Retry policy")
struct RetryPolicyTests {
    struct Refused: Error, Equatable { var attempt: Int }

    @Test("waits double from the backoff and stop growing at the maximum")
    func delays() {
        let policy = RetryPolicy(attempts: 6, backoff: .seconds(1), multiplier: 2, maximumBackoff: .seconds(5))
        #expect((1...5).map(policy.delay(after:)) == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        #expect(RetryPolicy(attempts: 3, backoff: .seconds(2), multiplier: 1).delay(after: 3) == .seconds(2))
    }

    @Test("tryAgain is retried with the policy's waits; the last failure is thrown when no try is left")
    func retriesThenThrowsTheLastFailure() async throws {
        let clock = SleepRecordingClock()
        let tries = Mutex(0)
        var logged: [String] = []
        await #expect(throws: Refused(attempt: 3)) {
            let _: Int = try await RetryPolicy(attempts: 3, backoff: .seconds(1)).run(
                clock: clock, log: { logged.append($0) }
            ) { attempt in
                tries.withLock { $0 = attempt }
                return .tryAgain(reason: "not yet (\(attempt))", failure: Refused(attempt: attempt))
            }
        }
        #expect(tries.withLock { $0 } == 3)
        #expect(clock.sleeps == [.seconds(1), .seconds(2)])
        #expect(logged == ["not yet (1)", "not yet (2)"])
    }

    @Test("a value ends the retries; a thrown error ends them at once")
    func finishedAndThrown() async throws {
        let clock = SleepRecordingClock()
        let value = try await RetryPolicy(attempts: 5, backoff: .seconds(1)).run(clock: clock) { attempt in
            attempt < 3 ? .tryAgain(reason: "", failure: Refused(attempt: attempt)) : .finished(attempt * 10)
        }
        #expect(value == 30)
        let thrownClock = SleepRecordingClock()
        await #expect(throws: Refused(attempt: 1)) {
            let _: Int = try await RetryPolicy(attempts: 5).run(clock: thrownClock) { attempt in
                throw Refused(attempt: attempt)
            }
        }
        #expect(thrownClock.sleeps.isEmpty)
    }

    @Test("a budget shortens the last wait to end at the deadline and stops there")
    func budget() async throws {
        let clock = SleepRecordingClock()
        await #expect(throws: Refused.self) {
            let _: Int = try await RetryPolicy(attempts: .max, backoff: .seconds(4), multiplier: 1).run(
                clock: clock, budget: .seconds(10)
            ) { attempt in .tryAgain(reason: "", failure: Refused(attempt: attempt)) }
        }
        #expect(clock.sleeps == [.seconds(4), .seconds(4), .seconds(2)])
    }
}
