import Foundation

/// Delivers notifications to every channel, retrying with backoff. A delivery that still fails is reported (a
/// redacted line to `report`) and returned, never thrown: telling on-call must not fail the run it tells about.
public struct Notifier: Sendable {
    public var channels: [NotificationChannel]
    /// Tries per channel and notification (default 4: the first and three retries).
    public var attempts: Int
    /// The first pause between tries, doubled after each.
    public var initialBackoff: Duration
    public var requestTimeout: Duration
    private let send: HTTPSend
    private let clock: any RunClock
    private let report: @Sendable (String) -> Void

    public init(
        channels: [NotificationChannel],
        attempts: Int = 4,
        initialBackoff: Duration = .seconds(1),
        requestTimeout: Duration = .seconds(10),
        clock: any RunClock = SystemRunClock(),
        send: @escaping HTTPSend = HTTPClient.urlSession,
        report: @escaping @Sendable (String) -> Void
    ) {
        self.channels = channels
        self.attempts = max(attempts, 1)
        self.initialBackoff = initialBackoff
        self.requestTimeout = requestTimeout
        self.clock = clock
        self.send = send
        self.report = report
    }

    /// A channel that could not be told.
    public struct Failure: Sendable, Hashable {
        public var channel: String
        public var attempts: Int
        /// Redacted.
        public var detail: String
    }

    /// Sends `notification` to every channel (side by side, so one dead target does not delay the others);
    /// returns the deliveries that failed, in the channels' order.
    @discardableResult
    public func notify(_ notification: Notification) async -> [Failure] {
        let outcomes = await withTaskGroup(of: (Int, Failure?).self) { group in
            for (index, channel) in channels.enumerated() {
                group.addTask { (index, await deliver(notification, to: channel)) }
            }
            var outcomes: [Int: Failure] = [:]
            for await (index, failure) in group {
                if let failure { outcomes[index] = failure }
            }
            return outcomes
        }
        let failures = outcomes.sorted { $0.key < $1.key }.map(\.value)
        for failure in failures {
            report(
                "warning: could not notify \(failure.channel) of \(notification.kind.rawValue) after"
                    + " \(failure.attempts) attempts: \(failure.detail)")
        }
        return failures
    }

    private func deliver(_ notification: Notification, to channel: NotificationChannel) async -> Failure? {
        let redactor = Redactor(secrets: channel.secrets)
        var request = channel.request(for: notification)
        request.timeout = requestTimeout
        let send = self.send
        var tries = 0
        var detail = ""
        do {
            try await RetryPolicy(attempts: attempts, backoff: initialBackoff).run(clock: clock) { attempt in
                tries = attempt
                do {
                    let response = try await send(request)
                    if (200..<300).contains(response.statusCode) { return .finished(()) }
                    let body = String(decoding: response.body.prefix(300), as: UTF8.self)
                    detail = "HTTP \(response.statusCode) \(body)".trimmingCharacters(in: .whitespacesAndNewlines)
                    // A 4xx other than 408/429 will not get better by asking again (a wrong routing key, a bad URL).
                    if (400..<500).contains(response.statusCode), ![408, 429].contains(response.statusCode) {
                        throw Undelivered()
                    }
                } catch let error as Undelivered {
                    throw error
                } catch is CancellationError {
                    detail = "cancelled"
                    throw Undelivered()
                } catch {
                    detail = error.localizedDescription
                }
                return .tryAgain(reason: detail, failure: Undelivered())
            }
            return nil
        } catch {
            if error is CancellationError { detail = detail.isEmpty ? "cancelled" : detail }
            return Failure(channel: channel.label, attempts: tries, detail: redactor.redact(detail))
        }
    }

    /// The end of the retries for one channel; `detail` says why.
    private struct Undelivered: Error {}
}
