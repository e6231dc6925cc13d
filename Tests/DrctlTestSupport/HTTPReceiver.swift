import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: records every request and answers each with the next status
/// of `statuses` (then 200). One connection at a time, `Connection: close`. Stopped by `stop()` or on deinit.
public final class HTTPReceiver: Sendable {
    /// One request as received.
    public struct Request: Sendable, Hashable {
        public var method: String
        public var path: String
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: Data

        /// The body as a JSON object.
        public func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw HTTPReceiverError.notJSON(String(decoding: body, as: UTF8.self))
            }
            return object
        }
    }

    public let port: Int
    private let socket: Int32
    private struct State {
        var statuses: [Int]
        var requests: [Request] = []
        var stopped = false
    }
    private let state: Mutex<State>

    /// `http://127.0.0.1:PORT` + `path`.
    public func url(_ path: String = "/") -> String { "http://127.0.0.1:\(port)\(path)" }

    public var requests: [Request] { state.withLock { $0.requests } }

    public init(statuses: [Int] = []) throws {
        state = Mutex(State(statuses: statuses))
        #if canImport(Glibc)
            let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let listener = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard listener >= 0 else { throw HTTPReceiverError.socket("socket", errno) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw HTTPReceiverError.socket("bind/listen", errno)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: actual.sin_port))
        socket = listener
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    deinit {
        stop()
    }

    public func stop() {
        let wasStopped = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return state.stopped
        }
        if !wasStopped {
            shutdown(socket, Int32(SHUT_RDWR))
            close(socket)
        }
    }

    private func serve() {
        while true {
            let connection = accept(socket, nil, nil)
            if connection < 0 {
                if state.withLock({ $0.stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let separator = Data("\r\n\r\n".utf8)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            guard count > 0 else { return }
            buffer.append(contentsOf: chunk[0..<count])
            headerEnd = buffer.range(of: separator)
        }
        guard let headerEnd else { return }
        let head = String(decoding: buffer[..<headerEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Data(buffer[headerEnd.upperBound...])
        while body.count < length {
            let count = recv(connection, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            body.append(contentsOf: chunk[0..<count])
        }
        let request = Request(
            method: requestLine.first.map(String.init) ?? "",
            path: requestLine.dropFirst().first.map(String.init) ?? "",
            headers: headers, body: body)
        let status = state.withLock { state -> Int in
            state.requests.append(request)
            return state.statuses.isEmpty ? 200 : state.statuses.removeFirst()
        }
        let answer = status == 200 ? "{\"status\":\"success\"}" : "{\"status\":\"failing on purpose\"}"
        let response =
            "HTTP/1.1 \(status) Test\r\nContent-Type: application/json\r\nContent-Length: \(answer.utf8.count)\r\n"
            + "Connection: close\r\n\r\n\(answer)"
        var bytes = Array(response.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return send(connection, base + sent, raw.count - sent, 0)
            }
            guard count > 0 else { return }
            sent += count
        }
    }
}

public enum HTTPReceiverError: Error, LocalizedError {
    case socket(String, Int32)
    case notJSON(String)

    public var errorDescription: String? {
        switch self {
        case .socket(let call, let code): "HTTPReceiver: \(call) failed: \(String(cString: strerror(code)))"
        case .notJSON(let body): "HTTPReceiver: the body is not a JSON object: \(body)"
        }
    }
}
