import DrctlCore
import Testing

@Suite("DRCTL_PAUSE_AT: where a run stops itself")
struct PausePointsTests {
    @Test("MOMENT:STEP pairs, comma-separated, are accepted; unset means no pause")
    func accepted() throws {
        #expect(try PausePoints("effect:database.drop-old, start:database.restore,done:readiness") != .none)
        #expect(try PausePoints.from(environment: [:]) == .none)
        #expect(try PausePoints.from(environment: ["DRCTL_PAUSE_AT": ""]) == .none)
    }

    @Test(
        "a malformed point is a usage error that names the moments and how to run without pausing",
        arguments: [
            "database.restore", "after:database.restore", "start:", "effect:x,oops",
        ])
    func refused(spec: String) {
        #expect {
            try PausePoints.from(environment: ["DRCTL_PAUSE_AT": spec])
        } throws: { error in
            let message = (error as? PausePointsError)?.errorDescription ?? ""
            return (error as? PausePointsError)?.failureKind == .usage
                && message.contains("start, effect, done") && message.contains("unset it")
        }
    }
}
