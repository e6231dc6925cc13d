import DrctlCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A run lock held by a zombie process, made with a real child (`/bin/true`, spawned and not reaped).
@Suite struct RunLockZombieTests {
    /// A SIGKILLed drctl whose parent is gone (or has not reaped it yet) is a zombie: `kill(pid, 0)` still
    /// succeeds, but it runs nothing, and its lock must count as stale so `drctl resume` can take it over.
    @Test func aLockOfAZombieProcessIsStale() async throws {
        var pid: pid_t = 0
        let arguments: [UnsafeMutablePointer<CChar>?] = ["/bin/true".withCString { strdup($0) }, nil]
        defer { arguments.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, arguments, environ) == 0)
        defer { waitpid(pid, nil, 0) }
        // Not reaped yet: a zombie once it has exited.
        var state = ""
        for _ in 0..<500 where !state.contains(") Z") {
            state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(state.contains(") Z"), "the child did not become a zombie: \(state)")
        #expect(kill(pid, 0) == 0)
        #expect(!ProcessIdentity.isAlive(pid: pid))
        let lock = RunLock(
            environment: "production", runID: "run-1", owner: "ops", host: ProcessIdentity.current.host, pid: pid,
            startedAt: Date(), nonce: "abc123")
        #expect(lock.isStale(on: ProcessIdentity.current))
        #expect(ProcessIdentity.isAlive(pid: getpid()))
    }
}
