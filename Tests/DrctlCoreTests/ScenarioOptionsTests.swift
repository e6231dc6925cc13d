import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// Scenario options are one Codable value per scenario: journaled as JSON in the run's first record, decoded by
/// `drctl resume`, compared as a value for drift. Runs journaled when they were flat strings still resume.
@Suite struct ScenarioOptionsTests {
    /// Writes a run-started record whose parameters hold `options` into a real journal, reads it back and decodes
    /// the options as `drctl resume` does.
    static func throughJournal<Options: ScenarioOptions>(_ options: Options) async throws -> Options {
        let state = try TemporaryStateDirectory()
        let journal = try await Journal.create(runID: "run-1", backend: state.backend)
        var started = JournalRecord(type: .runStarted, time: Date())
        started.run = RunHeader(
            runID: "run-1", runbook: "any", environment: "test",
            parameters: try RunParameters(manifest: "/m.yaml", workRoot: "/w", options: options),
            manifestFingerprint: "m", planFingerprint: "p", steps: [], rtoBudgetSeconds: nil, toolVersions: nil,
            drctlVersion: "test", user: "me", host: "here", pid: 1)
        try await journal.append(started)
        let read = try await Journal.read(runID: "run-1", backend: state.backend)
        let parameters = try #require(read.header?.parameters)
        #expect(parameters.manifest == "/m.yaml")
        #expect(parameters.workRoot == "/w")
        return try parameters.options(Options.self)
    }

    static let before = Date(timeIntervalSince1970: 1_759_933_800)  // 2025-10-08T14:30:00Z

    @Test("every scenario's options round-trip through the journal")
    func everyScenarioRoundTrips() async throws {
        let rebuild = RebuildScenario.Options(
            before: Self.before, releaseTimeout: .seconds(90), apiWaitAttempts: 3, backupDatabase: "valeo_erp")
        #expect(try await Self.throughJournal(rebuild) == rebuild)
        let named = RebuildScenario.Options(backup: "valeo_erp_backup_20251009_020000.sql.gz")
        #expect(try await Self.throughJournal(named) == named)
        let migration = MigrationRollbackScenario.Options(request: .steps(2), noBackup: true)
        #expect(try await Self.throughJournal(migration) == migration)
        let drill = GamedayScenario.Options(
            scenario: "row-recovery", from: "/m/production.yaml", drill: "/m/drill.yaml", releaseTimeout: .seconds(300),
            productionGuardOverridden: true, fromEnvironment: "production", incidentTime: Self.before)
        #expect(try await Self.throughJournal(drill) == drill)
        let selftest = SelfTestScenario.Options(dir: "/tmp/selftest", rtoSeconds: 60)
        #expect(try await Self.throughJournal(selftest) == selftest)
        #expect(try await Self.throughJournal(NoScenarioOptions()) == NoScenarioOptions())
    }

    @Test("the journal holds the options as typed JSON, not strings")
    func journaledAsJSON() throws {
        let options = RecoverRowsScenario.Options(
            selection: RowSelection(table: "documents_header", key: "id", ids: ["42", "4,3"], overwrite: true),
            before: Self.before, dryRun: true)
        let json = try JSONValue(encoding: try RunParameters(manifest: "/m.yaml", options: options))
        guard case .object(let top) = json, case .object(let journaled)? = top["options"] else {
            Issue.record("no options object in \(json)")
            return
        }
        #expect(journaled["ids"] == .array([.string("42"), .string("4,3")]))
        #expect(journaled["overwrite"] == .bool(true))
        #expect(journaled["dryRun"] == .bool(true))
        #expect(journaled["before"] == .string("2025-10-08T14:30:00.000Z"))
        #expect(journaled["table"] == .string("documents_header"))
    }

    @Test("options journaled as flat strings by an earlier drctl are read into the same value")
    func legacyParametersAreRead() throws {
        let legacy = """
            {"manifest": "/m.yaml", "workRoot": "/state/work", "table": "documents_header", "key": "id",
             "ids": "[\\"42\\",\\"43\\"]", "where": "[\\"customer_id=1007\\"]", "before": "2025-10-08T14:30:00Z",
             "overwrite": "yes", "dryRun": "yes"}
            """
        let parameters = try JSONDecoder().decode(RunParameters.self, from: Data(legacy.utf8))
        #expect(parameters.manifest == "/m.yaml")
        #expect(parameters.workRoot == "/state/work")
        let expected = RecoverRowsScenario.Options(
            selection: RowSelection(
                table: "documents_header", key: "id", ids: ["42", "43"],
                filters: [.init(column: "customer_id", value: "1007")], overwrite: true),
            before: Self.before, dryRun: true)
        #expect(try parameters.options(RecoverRowsScenario.Options.self) == expected)
        // Shown as it was journaled (`drctl runs show -o json`), not as empty options.
        #expect(
            try JSONValue(encoding: parameters)
                == JSONDecoder().decode(JSONValue.self, from: Data(legacy.utf8)))
        let app = try JSONDecoder().decode(
            RunParameters.self,
            from: Data(#"{"manifest": "/m.yaml", "revision": "4", "timeout": "1m30s", "withMigrations": "true"}"#.utf8))
        #expect(
            try app.options(AppRollbackScenario.Options.self)
                == AppRollbackScenario.Options(revision: 4, timeout: .seconds(90), withMigrations: true))
    }

    @Test("options this drctl cannot read are refused (exit 3) with what to do")
    func unreadableOptionsAreRefused() throws {
        let parameters = try JSONDecoder().decode(
            RunParameters.self, from: Data(#"{"manifest": "/m.yaml", "options": {"target": "sideways"}}"#.utf8))
        let error = #expect(throws: RunbookError.self) {
            try parameters.options(MigrationRollbackScenario.Options.self)
        }
        #expect(error?.failureKind == .refused)
        #expect(error?.errorDescription?.contains("option target") == true)
        #expect(error?.errorDescription?.contains("start a new run") == true)
    }

    @Test("a resumed run whose options differ from the journaled ones is refused, naming the option")
    func changedOptionIsDrift() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        log.fail(["join"])
        await #expect(throws: RunbookError.self) { try await RunService(state).start(TestRunbooks.diamond(log: log)) }
        log.fail([])
        // A drctl that reads the journaled options differently (here: another input) rebuilds another runbook.
        let registry = TestRunbooks.registry { parameters in
            var options = (try? parameters.options(DiamondOptions.self)) ?? DiamondOptions(input: "?")
            options.input += "0"
            var runbook = TestRunbooks.diamond(log: log)
            runbook.parameters = (try? parameters.setting(options)) ?? parameters
            return runbook
        }
        let refusal = await #expect(throws: RunbookError.self) {
            try await RunService(state).resume(runID: try state.backend.onlyRunID(), registry: registry)
        }
        guard case .drift(_, let changes) = refusal else {
            Issue.record("expected drift, got \(String(describing: refusal))")
            return
        }
        #expect(changes == ["option input changed from '1' to '10'"])
        #expect(log.count("join") == 1)
    }

    @Test("a run journaled with flat-string options by an earlier drctl resumes")
    func legacyJournalResumes() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        log.fail(["join"])
        await #expect(throws: RunbookError.self) {
            try await RunService(state).start(TestRunbooks.diamond(log: log, input: "7"))
        }
        let runID = try state.backend.onlyRunID()
        try Self.rewriteAsLegacy(path: state.backend.journalPath(runID: runID), parameters: ["input": "7"])
        log.fail([])
        let registry = TestRunbooks.registry { parameters in
            TestRunbooks.diamond(log: log, input: (try? parameters.options(DiamondOptions.self))?.input ?? "?")
        }
        let report = try await RunService(state).resume(runID: runID, registry: registry)
        #expect(report.status == .succeeded)
        #expect(report.steps.last?.outputs["value"] == "fL+fR7!")
        let history = try state.backend.history(runID)
        #expect(history.segments.map(\.kind) == [.started, .resumed])
        // The old first record stays as it was; the resume's record is written in the new shape.
        let headers = try await Journal.read(runID: runID, backend: state.backend).records.compactMap(\.run)
        #expect(headers.map(\.parameters.legacyOptions) == [["input": "7"], nil])
        #expect(try headers.last?.parameters.options(DiamondOptions.self) == DiamondOptions(input: "7"))
    }

    /// Rewrites a journal as the previous drctl wrote it: the run-started record's parameters a flat string map,
    /// every line's `prev` the hash of the rewritten line before it.
    static func rewriteAsLegacy(path: String, parameters: [String: String]) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var previous: String?
        var lines: [String] = []
        for (index, line) in text.split(separator: "\n").enumerated() {
            var record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if index == 0 {
                var run = try #require(record["run"] as? [String: Any])
                #expect(run["parameters"] is [String: Any])
                run["parameters"] = parameters
                record["run"] = run
            }
            record["prev"] = previous
            let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
            let rewritten = String(decoding: data, as: UTF8.self)
            previous = Fingerprint.of(rewritten)
            lines.append(rewritten)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
