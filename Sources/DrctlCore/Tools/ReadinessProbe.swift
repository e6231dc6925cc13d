import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Fetches a URL with a per-request timeout. The live one is `ReadinessProbe.urlSessionFetch`; tests pass a script.
public typealias HTTPFetch = @Sendable (_ url: URL, _ timeout: Duration) async throws -> HTTPResponse

/// A native HTTP GET readiness check (`/readyz`): retries with exponential backoff until a 2xx answer or the
/// overall timeout. Not a process: no curl needed on the operator's machine.
public struct ReadinessProbe: Sendable {
    public var url: URL
    /// How long to keep trying in total.
    public var timeout: Duration
    /// The limit for one request.
    public var requestTimeout: Duration
    /// The first pause between attempts; doubled after each failure up to `maximumBackoff`.
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    private let fetch: HTTPFetch
    private let clock: any RunClock

    public init(
        url: URL,
        timeout: Duration = .seconds(300),
        requestTimeout: Duration = .seconds(10),
        initialBackoff: Duration = .seconds(1),
        maximumBackoff: Duration = .seconds(15),
        clock: any RunClock = SystemRunClock(),
        fetch: @escaping HTTPFetch = ReadinessProbe.urlSessionFetch
    ) {
        self.url = url
        self.timeout = timeout
        self.requestTimeout = requestTimeout
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.clock = clock
        self.fetch = fetch
    }

    /// What a successful probe saw.
    public struct Outcome: Sendable, Hashable {
        public var attempts: Int
        public var statusCode: Int
        public var waited: Duration
    }

    /// Returns at the first 2xx answer; throws `ReadinessError.notReady` with the last answer when time runs out.
    /// The waits follow the one `RetryPolicy` (doubling up to `maximumBackoff`); the last one ends exactly at the
    /// deadline, and one final attempt is made there.
    public func waitUntilReady() async throws -> Outcome {
        let start = clock.now()
        let clock = self.clock
        func elapsed() -> Duration { clock.now().duration(since: start) }
        let policy = RetryPolicy(
            attempts: .max, backoff: initialBackoff, multiplier: 2, maximumBackoff: maximumBackoff)
        var lastResponse: HTTPResponse?
        var lastError: String?
        return try await policy.run(clock: clock, budget: timeout) { attempt in
            let remaining = timeout - elapsed()
            do {
                let response = try await fetch(url, min(requestTimeout, max(remaining, .milliseconds(100))))
                if (200..<300).contains(response.statusCode) {
                    return .finished(Outcome(attempts: attempt, statusCode: response.statusCode, waited: elapsed()))
                }
                lastResponse = response
                lastError = nil
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                lastError = error.localizedDescription
            }
            let notReady = ReadinessError.notReady(
                url: url.absoluteString,
                attempts: attempt,
                waited: elapsed(),
                lastStatusCode: lastResponse?.statusCode,
                lastBodyTail: lastResponse.map { Self.tail(of: $0.body) } ?? "",
                lastError: lastError
            )
            return .tryAgain(reason: "\(url.absoluteString) not ready yet", failure: notReady)
        }
    }

    /// The last 500 bytes of a body, as text.
    static func tail(of body: Data, limit: Int = 500) -> String {
        String(decoding: body.suffix(limit), as: UTF8.self)
    }

    /// A GET through the shared `HTTPClient`.
    public static let urlSessionFetch: HTTPFetch = { url, timeout in
        try await HTTPClient.urlSession(HTTPRequest(method: "GET", url: url, timeout: timeout))
    }
}

/// The application did not become ready.
public enum ReadinessError: Error, Sendable, Hashable, LocalizedError {
    case notReady(
        url: String, attempts: Int, waited: Duration, lastStatusCode: Int?, lastBodyTail: String, lastError: String?)

    public var errorDescription: String? {
        switch self {
        case .notReady(let url, let attempts, let waited, let status, let body, let error):
            var text = "\(url) did not answer 2xx within \(waited.formattedSeconds) (\(attempts) attempts)"
            if let status {
                text += "; last answer: HTTP \(status)"
                let shown = body.trimmingCharacters(in: .whitespacesAndNewlines)
                if !shown.isEmpty { text += "\n  body (last 500 bytes): \(shown)" }
            }
            if let error { text += "\n  last error: \(error)" }
            text +=
                "\n  Check the pods (`kubectl get pods`, `kubectl logs`) and the app's database connection;"
                + " run the step again once the app answers."
            return text
        }
    }
}

extension ReadinessError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .notReady: .failed
        }
    }
}
