import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The S3 state backend runs the same `aws` as the rest of drctl: `DRCTL_AWS` names it.
@Suite("State backends")
struct StateBackendTests {
    @Test("an s3:// state location runs the aws that DRCTL_AWS names")
    func s3StateHonoursTheAwsOverride() async throws {
        let runner = RecordingCommandRunner { CommandResult.success($0, output: "{}") }
        let home = NSTemporaryDirectory() + "drctl-state-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: home) }
        let backend = try StateBackends.make(
            location: "s3://team-bucket/drctl", runner: runner,
            environment: ["DRCTL_AWS": "/opt/aws/bin/aws", "HOME": home])
        _ = try await backend.runIDs()
        #expect(runner.invocations.map(\.executable) == ["/opt/aws/bin/aws"])
    }

    @Test("without the override it runs aws from PATH")
    func s3StateDefaultsToAwsOnPath() async throws {
        let runner = RecordingCommandRunner { CommandResult.success($0, output: "{}") }
        let home = NSTemporaryDirectory() + "drctl-state-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: home) }
        let backend = try StateBackends.make(location: "s3://team-bucket", runner: runner, environment: ["HOME": home])
        _ = try await backend.runIDs()
        #expect(runner.invocations.map(\.executable) == ["aws"])
    }
}
