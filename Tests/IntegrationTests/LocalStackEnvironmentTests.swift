import Foundation
import Testing

/// Guards every integration test: the local stack's exports (`scripts/stack env`) must be in the environment.
/// `scripts/test` loads them; without them the real programs would talk to nothing.
@Suite("Local stack environment")
struct LocalStackEnvironmentTests {
    static let requiredVariables = [
        "DRCTL_STACK_DIR", "PGHOST", "PGPORT", "DRCTL_PG_SUPERUSER", "DRCTL_PG_USER", "DRCTL_PG_PASSWORD",
        "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    ]

    @Test("scripts/stack env exports are present")
    func stackExportsArePresent() {
        let environment = ProcessInfo.processInfo.environment
        let missing = Self.requiredVariables.filter { (environment[$0] ?? "").isEmpty }
        #expect(
            missing.isEmpty,
            """
            missing \(missing.joined(separator: ", ")): run scripts/bootstrap && scripts/stack up, \
            then eval "$(scripts/stack env)" (scripts/test does both checks for you)
            """
        )
    }

    @Test("the stack listens on loopback and keeps its AWS files in .stack")
    func stackStaysLocal() {
        let environment = ProcessInfo.processInfo.environment
        guard let stackDirectory = environment["DRCTL_STACK_DIR"], !stackDirectory.isEmpty else {
            Issue.record("DRCTL_STACK_DIR is not set: run scripts/stack up and eval \"$(scripts/stack env)\"")
            return
        }
        #expect(environment["PGHOST"] == "127.0.0.1")
        #expect(environment["AWS_ENDPOINT_URL"]?.hasPrefix("http://127.0.0.1:") == true)
        for name in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
            let path = environment[name] ?? ""
            #expect(path.hasPrefix(stackDirectory), "\(name)=\(path) is outside \(stackDirectory)")
            #expect(FileManager.default.fileExists(atPath: path), "\(name)=\(path) does not exist")
        }
    }
}
