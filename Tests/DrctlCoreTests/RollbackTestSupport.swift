import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization

/// A manifest, toolbox and scripted helm/alembic answers for the rollback scenario tests.
enum RollbackFixtures {
    static func manifest(environment: String = "staging", migrations: Bool = true) -> Manifest {
        func path(_ written: String) -> ManifestPath { ManifestPath(written: written, absolute: "/project/" + written) }
        return Manifest(
            environment: environment,
            kube: .init(context: "ctx", namespace: "prod"),
            database: .init(
                host: "db.local", port: 5432, user: "valeo", name: "valeo_erp", password: .env("DB_PASSWORD")),
            backups: .init(
                local: path("backups"), sizeFloor: ByteSize(bytes: 10), retention: .init(daily: 30, monthly: 12)),
            releases: .init(
                postgresql: .init(name: "postgresql", chart: .reference("bitnami/postgresql")),
                app: .init(
                    release: .init(name: "valeo-erp", chart: .local(path("k8s/helm/valeo-erp"))),
                    deployment: "valeo-erp", replicas: 3)),
            readiness: .init(url: "http://127.0.0.1:1/readyz", timeout: .seconds(120)),
            migrations: migrations ? .init(directory: path("migrations"), config: path("migrations/alembic.ini")) : nil,
            objectives: .init(rpo: .seconds(86_400), rto: .seconds(14_400)),
            source: .init(file: path("manifests/\(environment).yaml"), projectRoot: "/project"))
    }

    static func toolbox(environment: String = "staging", migrations: Bool = true) -> ScenarioToolbox {
        ScenarioToolbox(
            manifest: manifest(environment: environment, migrations: migrations),
            databasePassword: SecretValue("s3cret"))
    }

    static func revision(
        _ number: Int, _ status: String, chart: String = "valeo-erp-1.0.0", app: String = "1.0.0",
        description: String? = nil
    ) -> HelmRevision {
        HelmRevision(
            revision: number, updated: Date(timeIntervalSince1970: 1_760_000_000 + Double(number) * 60), status: status,
            chart: chart, appVersion: app,
            description: description ?? (number == 1 ? "Install complete" : "Upgrade complete"))
    }

    /// `helm history -o json` for these revisions.
    static func historyJSON(_ revisions: [HelmRevision]) -> String {
        let rows = revisions.map {
            """
            {"revision":\($0.revision),"updated":"2026-11-25T14:0\($0.revision):00.000000+00:00","status":"\($0.status)",\
            "chart":"\($0.chart)","app_version":"\($0.appVersion)","description":"\($0.description)"}
            """
        }
        return "[" + rows.joined(separator: ",") + "]"
    }

    /// The sample project's `alembic history` (newest first), optionally with a branch `0004b` off 0003.
    static func alembicHistory(branch: Bool = false) -> String {
        var lines = [
            "0003 -> 0004 (head), add notes and updated_at",
            "0002 -> 0003, add customer and amount",
            "0001 -> 0002, add status",
            "<base> -> 0001, create documents_header",
        ]
        if branch {
            lines[0] = "0003 -> 0004 (head), add notes and updated_at"
            lines.insert("0003 -> 0004b (head), a branch", at: 0)
            lines[2] = "0002 -> 0003 (branchpoint), add customer and amount"
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A context for running one step's action or probe by hand, with the given earlier outputs.
    static func context(
        _ step: StepID, runner: RecordingCommandRunner, completed: [StepID: StepOutputs] = [:]
    ) -> StepContext {
        StepContext(runID: "test-run", step: step, runner: runner, clock: ManualClock(), completed: completed)
    }
}

/// Answers helm and alembic invocations by their subcommand.
struct ScriptedTools: Sendable {
    var history: String = "[]"
    var historyAfterDelete: String? = nil
    /// What `helm history` shows once `helm rollback` ran (default: `history`, unchanged).
    var historyAfterRollback: String? = nil
    var rollbackFails: Bool = false
    var alembicCurrent: String = "0004 (head)\n"
    var alembicCurrentFailure: String? = nil
    var alembicHeads: String = "0004 (head)\n"
    var alembicHistory: String = RollbackFixtures.alembicHistory()
    var downgradeFails: Bool = false

    func runner() -> RecordingCommandRunner {
        let deleted = DeletedFlag()
        let rolledBack = DeletedFlag()
        return RecordingCommandRunner { invocation in
            let arguments = invocation.arguments
            if invocation.executable == "helm" {
                switch arguments.first {
                case "history":
                    if rolledBack.isSet, let historyAfterRollback {
                        return .success(invocation, output: historyAfterRollback)
                    }
                    return .success(invocation, output: deleted.isSet ? (historyAfterDelete ?? history) : history)
                case "rollback":
                    if rollbackFails {
                        return .failure(invocation, stderr: "Error: timed out waiting for the condition")
                    }
                    rolledBack.set()
                    return .success(invocation)
                default: return .success(invocation)
                }
            }
            if invocation.executable == "kubectl" {
                if arguments.contains("delete") { deleted.set() }
                return .success(invocation)
            }
            if invocation.executable == "alembic" {
                if arguments.contains("current") {
                    if let failure = alembicCurrentFailure {
                        return CommandResult(
                            invocation: invocation, status: .exited(255), standardOutput: Data(failure.utf8))
                    }
                    return .success(invocation, output: alembicCurrent)
                }
                if arguments.contains("heads") { return .success(invocation, output: alembicHeads) }
                if arguments.contains("history") { return .success(invocation, output: alembicHistory) }
                if arguments.contains("downgrade") {
                    return downgradeFails
                        ? .failure(
                            invocation,
                            stderr:
                                "Traceback (most recent call last):\npsycopg.errors.DependentObjectsStillExist: cannot drop column"
                        )
                        : .success(invocation)
                }
            }
            return .success(invocation)
        }
    }
}

final class DeletedFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
