import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one-run-at-a-time lock of an environment. `nonce` proves who may remove it (`drctl unlock ENV --nonce N`).
public struct RunLock: Sendable, Hashable, Codable {
    public var environment: String
    public var runID: String
    public var owner: String
    public var host: String
    public var pid: Int32
    public var startedAt: Date
    public var nonce: String

    public init(
        environment: String, runID: String, owner: String, host: String, pid: Int32, startedAt: Date,
        nonce: String = RunLock.makeNonce()
    ) {
        self.environment = environment
        self.runID = runID
        self.owner = owner
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.nonce = nonce
    }

    public init(environment: String, runID: String, identity: ProcessIdentity, startedAt: Date) {
        self.init(
            environment: environment, runID: runID, owner: identity.user, host: identity.host, pid: identity.pid,
            startedAt: startedAt
        )
    }

    public static func makeNonce() -> String {
        (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// True when the lock was taken on this host by a process that no longer exists. A lock from another host
    /// is never called stale: drctl cannot see that host's processes.
    public func isStale(on identity: ProcessIdentity) -> Bool {
        guard host == identity.host else { return false }
        return !ProcessIdentity.isAlive(pid: pid)
    }
}

/// The user, host and pid of this process, as journaled and written into locks.
public struct ProcessIdentity: Sendable, Hashable {
    public var user: String
    public var host: String
    public var pid: Int32

    public init(user: String, host: String, pid: Int32) {
        self.user = user
        self.host = host
        self.pid = pid
    }

    public static var current: ProcessIdentity {
        let environment = ProcessInfo.processInfo.environment
        var buffer = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown-host"
        let account = getpwuid(getuid()).flatMap { $0.pointee.pw_name }.map { String(cString: $0) }
        let user = environment["USER"] ?? environment["LOGNAME"] ?? account ?? "uid-\(getuid())"
        return ProcessIdentity(user: user, host: host, pid: getpid())
    }

    /// Whether a process with this pid exists (EPERM: it exists but belongs to someone else) and is not a zombie:
    /// a SIGKILLed drctl whose parent is gone stays a zombie until someone reaps it, and must not hold its lock.
    public static func isAlive(pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        return ProcStat(pid: pid)?.isRunning ?? true
    }
}
