import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP request: method, URL, headers, body and a timeout for the whole exchange.
public struct HTTPRequest: Sendable, Hashable {
    public var method: String
    public var url: URL
    public var headers: [String: String]
    public var body: Data
    public var timeout: Duration

    public init(
        method: String = "GET", url: URL, headers: [String: String] = [:], body: Data = Data(),
        timeout: Duration = .seconds(10)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// Sends one request and returns the answer of any status; throws only when no answer came. The live one is
/// `HTTPClient.urlSession`; tests pass a script.
public typealias HTTPSend = @Sendable (_ request: HTTPRequest) async throws -> HTTPResponse

/// One HTTP answer: the status code and the body.
public struct HTTPResponse: Sendable, Hashable {
    public var statusCode: Int
    public var body: Data

    public init(statusCode: Int, body: Data = Data()) {
        self.statusCode = statusCode
        self.body = body
    }
}

/// drctl's one HTTP client (readiness probes, notifications, game-day smoke checks): URLSession
/// (FoundationNetworking on Linux), no caching, no cookies. Not a process: no curl needed on the operator's
/// machine. Cancelling the calling task (Ctrl-C, SIGTERM) cancels the request at once instead of waiting for its
/// timeout, and ends in `CancellationError`.
public enum HTTPClient {
    public static let urlSession: HTTPSend = { request in
        var urlRequest = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = max(request.timeout.seconds, 0.1)
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty { urlRequest.httpBody = request.body }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let running = RunningRequest()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    if running.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else if let error {
                        continuation.resume(throwing: error)
                    } else if let http = response as? HTTPURLResponse {
                        continuation.resume(returning: HTTPResponse(statusCode: http.statusCode, body: data ?? Data()))
                    } else {
                        continuation.resume(throwing: URLError(.badServerResponse))
                    }
                }
                running.start(task)
            }
        } onCancel: {
            running.cancel()
        }
    }

    /// The request in flight, so a cancellation that arrives before or after it started reaches it.
    private final class RunningRequest: @unchecked Sendable {
        private let lock = NSLock()
        private var task: URLSessionTask?
        private var cancelled = false

        var isCancelled: Bool { lock.withLock { cancelled } }

        func start(_ task: URLSessionTask) {
            let alreadyCancelled = lock.withLock {
                self.task = task
                return cancelled
            }
            if alreadyCancelled { task.cancel() } else { task.resume() }
        }

        func cancel() {
            let task = lock.withLock {
                cancelled = true
                return self.task
            }
            task?.cancel()
        }
    }
}
