import DrctlTestSupport
import Foundation
import Testing

@testable import DrctlCore

/// `drctl plan` asks `helm version` once per helm binary: the answer is cached in the state folder, keyed by
/// the binary's path, modification time and size; a changed binary is asked again, a forced major never.
@Suite("helm version cache")
struct HelmVersionCacheTests {
    /// A throwaway folder with an executable `helm` file (never run: the recording runner answers) and a state
    /// folder; the loader sees only this PATH and this state folder.
    final class World {
        let root: String
        var helm: String { root + "/bin/helm" }
        var environment: [String: String] { ["PATH": root + "/bin", "DRCTL_STATE_DIR": root + "/state"] }

        init() throws {
            root =
                FileManager.default.temporaryDirectory.appendingPathComponent("drctl-helm-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try write("#!/bin/sh\n")
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ contents: String) throws {
            try contents.write(toFile: helm, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: helm)
        }
    }

    static func runner(answering version: String) -> RecordingCommandRunner {
        RecordingCommandRunner { invocation in
            CommandResult(invocation: invocation, status: .exited(0), standardOutput: Data(version.utf8))
        }
    }

    static func asked(_ runner: RecordingCommandRunner) -> Int {
        runner.invocations.filter { $0.arguments.first == "version" }.count
    }

    @Test("the second look-up of the same binary asks no helm; a changed binary is asked again")
    func cachedPerBinary() async throws {
        let world = try World()
        let runner = Self.runner(answering: "v4.1.4")
        let loader = ScenarioLoader(environment: world.environment, runner: runner)
        #expect(await loader.detectHelmVersion(executable: "helm", planning: true) == .v4)
        #expect(await loader.detectHelmVersion(executable: "helm", planning: true) == .v4)
        #expect(Self.asked(runner) == 1)
        #expect(FileManager.default.fileExists(atPath: world.root + "/state/cache/helm-version.json"))

        // helm replaced by another version (another size): asked again, and the new answer is used.
        try world.write("#!/bin/sh\n# helm 3 now\n")
        runner.respond { invocation in
            CommandResult(invocation: invocation, status: .exited(0), standardOutput: Data("v3.18.0".utf8))
        }
        #expect(await loader.detectHelmVersion(executable: "helm", planning: true) == .v3)
        #expect(Self.asked(runner) == 2)
        #expect(await loader.detectHelmVersion(executable: "helm", planning: true) == .v3)
        #expect(Self.asked(runner) == 2)
    }

    @Test("a failed helm version is not cached; DRCTL_HELM_MAJOR asks nothing")
    func failuresAndForcedMajorAreNotCached() async throws {
        let world = try World()
        let failing = RecordingCommandRunner { CommandResult(invocation: $0, status: .exited(1)) }
        let loader = ScenarioLoader(environment: world.environment, runner: failing)
        #expect(await loader.detectHelmVersion(executable: "helm", planning: true) == .v3)
        #expect(await loader.detectHelmVersion(executable: "helm", planning: true) == .v3)
        #expect(Self.asked(failing) == 2)

        var forcedEnvironment = world.environment
        forcedEnvironment["DRCTL_HELM_MAJOR"] = "4"
        let runner = Self.runner(answering: "v3.18.0")
        let forced = ScenarioLoader(environment: forcedEnvironment, runner: runner)
        #expect(await forced.detectHelmVersion(executable: "helm", planning: true) == .v4)
        #expect(Self.asked(runner) == 0)
    }
}
