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

/// drctl's one HTTP client (readiness probes, notifications): URLSession (FoundationNetworking on Linux), no
/// caching, no cookies. Not a process: no curl needed on the operator's machine.
public enum HTTPClient {
    public static let urlSession: HTTPSend = { request in
        var urlRequest = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = max(request.timeout.seconds, 0.1)
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty { urlRequest.httpBody = request.body }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        return try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: urlRequest) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let http = response as? HTTPURLResponse {
                    continuation.resume(returning: HTTPResponse(statusCode: http.statusCode, body: data ?? Data()))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }
            task.resume()
        }
    }
}
