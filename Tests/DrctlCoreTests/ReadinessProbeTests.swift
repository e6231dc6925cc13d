import DrctlCore
import Foundation
import Synchronization
import Testing

/// A clock whose sleeps return at once and move time forward, recording each pause: backoff and timeouts are
/// tested without waiting. (`ManualClock` in DrctlTestSupport waits for a test to advance it instead.)
final class SleepRecordingClock: RunClock {
    private let state = Mutex<(now: Date, sleeps: [Duration])>((Date(timeIntervalSince1970: 1_760_000_000), []))

    func now() -> Date { state.withLock { $0.now } }
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func sleep(for duration: Duration) async throws {
        state.withLock { state in
            state.sleeps.append(duration)
            state.now = state.now.addingTimeInterval(duration.seconds)
        }
    }
}

/// Answers from a script, one response per request; the last one repeats.
final class ScriptedFetch: Sendable {
    private let responses: Mutex<[Result<HTTPResponse, URLError>]>
    private let count = Mutex(0)

    init(_ responses: [Result<HTTPResponse, URLError>]) { self.responses = Mutex(responses) }

    var requests: Int { count.withLock { $0 } }

    var fetch: HTTPFetch {
        { _, _ in
            self.count.withLock { $0 += 1 }
            let next = self.responses.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
            return try next.get()
        }
    }
}

@Suite struct ReadinessProbeTests {
    static func url(_ text: String = "https://erp.valeo.example.com/readyz") throws -> URL {
        try #require(URL(string: text))
    }

    @Test func readyAfterRetriesWithBackoff() async throws {
        let clock = SleepRecordingClock()
        let script = ScriptedFetch([
            .failure(URLError(.cannotConnectToHost)),
            .success(HTTPResponse(statusCode: 503, body: Data("starting".utf8))),
            .success(HTTPResponse(statusCode: 503)), .success(HTTPResponse(statusCode: 200, body: Data("ok".utf8))),
        ])
        let probe = ReadinessProbe(
            url: try Self.url(), timeout: .seconds(60), initialBackoff: .seconds(1), clock: clock, fetch: script.fetch)
        let outcome = try await probe.waitUntilReady()
        #expect(outcome.attempts == 4)
        #expect(outcome.statusCode == 200)
        #expect(clock.sleeps == [.seconds(1), .seconds(2), .seconds(4)])
    }

    @Test func backoffIsCappedAndTimeoutEndsWithTheLastAnswer() async throws {
        let clock = SleepRecordingClock()
        let body = String(repeating: "x", count: 600) + "database connection refused"
        let script = ScriptedFetch([.success(HTTPResponse(statusCode: 503, body: Data(body.utf8)))])
        let probe = ReadinessProbe(
            url: try Self.url(), timeout: .seconds(30), initialBackoff: .seconds(2), maximumBackoff: .seconds(5),
            clock: clock,
            fetch: script.fetch)
        let error = await #expect(throws: ReadinessError.self) { try await probe.waitUntilReady() }
        guard case .notReady(_, let attempts, let waited, let status, let tail, _) = error else { return }
        #expect(status == 503)
        #expect(tail.utf8.count == 500)
        #expect(tail.hasSuffix("database connection refused"))
        #expect(waited == .seconds(30))
        #expect(
            clock.sleeps == [.seconds(2), .seconds(4), .seconds(5), .seconds(5), .seconds(5), .seconds(5), .seconds(4)])
        #expect(attempts == 8)
        let message = error?.localizedDescription ?? ""
        #expect(message.contains("HTTP 503"))
        #expect(message.contains("https://erp.valeo.example.com/readyz"))
    }

    @Test func connectionErrorsAreReported() async throws {
        let clock = SleepRecordingClock()
        let script = ScriptedFetch([.failure(URLError(.cannotConnectToHost))])
        let probe = ReadinessProbe(url: try Self.url(), timeout: .seconds(3), clock: clock, fetch: script.fetch)
        let error = await #expect(throws: ReadinessError.self) { try await probe.waitUntilReady() }
        guard case .notReady(_, _, _, let status, _, let lastError) = error else { return }
        #expect(status == nil)
        #expect(lastError != nil)
    }

    // The live fetch against a port nobody listens on: a transport error, not a crash or a hang.
    @Test func liveFetchFailsOnADeadPort() async throws {
        await #expect(throws: (any Error).self) {
            _ = try await ReadinessProbe.urlSessionFetch(try Self.url("http://127.0.0.1:1/readyz"), .seconds(5))
        }
    }
}
