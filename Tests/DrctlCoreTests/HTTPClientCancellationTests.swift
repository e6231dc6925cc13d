import DrctlCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C during a readiness check or a notification must not wait for the request's timeout: cancelling the task
/// cancels the request. The server here accepts connections (the kernel's backlog) and never answers, so only a
/// cancellation can end the request before its one-minute timeout; what ends it is told by the error it ends with.
@Suite("HTTP client cancellation")
struct HTTPClientCancellationTests {
    @Test("a cancelled request to a server that never answers ends in CancellationError, not its timeout")
    func cancellingARequestEndsItAtOnce() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let request = HTTPRequest(
            url: URL(string: "http://127.0.0.1:\(listener.port)/readyz")!, timeout: .seconds(60))
        let task = Task { try await HTTPClient.urlSession(request) }
        try await listener.waitForConnection()
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }

    @Test("a readiness probe cancelled while its request hangs ends in CancellationError")
    func cancellingAReadinessProbeEndsItAtOnce() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let probe = ReadinessProbe(
            url: URL(string: "http://127.0.0.1:\(listener.port)/readyz")!, timeout: .seconds(60),
            requestTimeout: .seconds(60))
        let task = Task { try await probe.waitUntilReady() }
        try await listener.waitForConnection()
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }

    @Test("a request cancelled before it starts is never sent")
    func cancelledBeforeStart() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let request = HTTPRequest(url: URL(string: "http://127.0.0.1:\(listener.port)/")!, timeout: .seconds(60))
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await HTTPClient.urlSession(request)
        }
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }
}

/// A TCP socket on 127.0.0.1 that accepts connections and never writes a byte.
private final class SilentListener: @unchecked Sendable {
    let port: Int
    private let socket: Int32
    private var accepted: [Int32] = []

    struct Failure: Error { var what: String }

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(what: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 8) == 0 else { throw Failure(what: "bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits (polling, without a deadline of its own: the test's own limit applies) until a client connected.
    func waitForConnection() async throws {
        while true {
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                let client = accept(socket, nil, nil)
                if client >= 0 {
                    accepted.append(client)
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func close() {
        for client in accepted { _ = Glibc.close(client) }
        _ = Glibc.close(socket)
    }
}
