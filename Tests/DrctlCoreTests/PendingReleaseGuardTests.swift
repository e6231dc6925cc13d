import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// A rebuild killed while helm was installing leaves the release pending; the next attempt clears only its own
/// pending revision and refuses anyone else's.
@Suite("Pending helm release after an interruption")
struct PendingReleaseGuardTests {
    static func statusJSON(revision: Int, status: String) -> String {
        #"{"name":"valeo-erp","namespace":"prod","version":\#(revision),"info":{"status":"\#(status)","description":"x"}}"#
    }

    static func guardIn(_ folder: String) -> PendingReleaseGuard {
        PendingReleaseGuard(
            helm: Helm(namespace: "prod"), kubectl: Kubectl(namespace: "prod"), release: "valeo-erp", folder: folder,
            settleTime: .zero)
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "drctl-pending-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("this run's own pending-install (marker says it started from nothing) is cleared, only that record")
    func ownPendingRevisionIsCleared() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "0".write(toFile: folder + "/valeo-erp.helm-started-from", atomically: true, encoding: .utf8)
        let runner = RecordingCommandRunner { invocation in
            if invocation.arguments.first == "status" {
                return .success(invocation, output: Self.statusJSON(revision: 1, status: "pending-install"))
            }
            return .success(invocation)
        }
        let context = StepContext(runID: "run-1", step: "app.install", runner: runner)
        try await Self.guardIn(folder).prepare(context: context)
        let deletes = runner.invocations.filter { $0.arguments.contains("delete") }
        #expect(deletes.count == 1)
        #expect(deletes.first?.arguments.contains("owner=helm,name=valeo-erp,version=1,status=pending-install") == true)
    }

    @Test("a pending revision drctl did not start is refused and nothing is deleted")
    func foreignPendingRevisionIsRefused() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runner = RecordingCommandRunner { invocation in
            .success(invocation, output: Self.statusJSON(revision: 4, status: "pending-upgrade"))
        }
        let context = StepContext(runID: "run-1", step: "app.install", runner: runner)
        await #expect(throws: ScenarioError.self) { try await Self.guardIn(folder).prepare(context: context) }
        #expect(!runner.invocations.contains { $0.arguments.contains("delete") })
    }

    @Test("a deployed release records the revision helm starts from")
    func deployedReleaseRecordsItsRevision() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runner = RecordingCommandRunner { invocation in
            .success(invocation, output: Self.statusJSON(revision: 3, status: "deployed"))
        }
        try await Self.guardIn(folder).prepare(context: StepContext(runID: "r", step: "s", runner: runner))
        let marker = try String(contentsOfFile: folder + "/valeo-erp.helm-started-from", encoding: .utf8)
        #expect(marker == "3")
    }

    @Test("a pending release that settles while waiting (an orphaned helm finishing) is left alone")
    func settlingReleaseIsNotCleared() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "0".write(toFile: folder + "/valeo-erp.helm-started-from", atomically: true, encoding: .utf8)
        let calls = Mutex(0)
        let runner = RecordingCommandRunner { invocation in
            let call = calls.withLock {
                $0 += 1; return $0
            }
            let status = call == 1 ? "pending-install" : "deployed"
            return .success(invocation, output: Self.statusJSON(revision: 1, status: status))
        }
        let waiting = PendingReleaseGuard(
            helm: Helm(namespace: "prod"), kubectl: Kubectl(namespace: "prod"), release: "valeo-erp", folder: folder,
            settleTime: .seconds(5))
        try await waiting.prepare(context: StepContext(runID: "r", step: "s", runner: runner))
        #expect(!runner.invocations.contains { $0.arguments.contains("delete") })
        let marker = try String(contentsOfFile: folder + "/valeo-erp.helm-started-from", encoding: .utf8)
        #expect(marker == "1")
    }
}
