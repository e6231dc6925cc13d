import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// The data-plane Job as drctl writes it and `JobRunner`'s conduct, against the recording runner: the Job and
/// its Secret go to kubectl on stdin, the password is a `secretKeyRef` only, a Job that is already there is
/// followed (not created again), a failed Job's verdict keeps its exit-code kind and the log tail.
@Suite struct JobRunnerTests {
    static let password = "pa$$ w0rd'\""

    private func toolbox(_ jobs: Manifest.DataPlaneJobs? = nil) -> ScenarioToolbox {
        var manifest = RollbackFixtures.manifest()
        manifest.database.dataPlane = .job
        manifest.database.jobs = jobs
        return ScenarioToolbox(manifest: manifest, databasePassword: SecretValue(Self.password))
    }

    @Test func theJobNamesThePasswordOnlyAsASecretReference() throws {
        let (job, secret) = try toolbox().dataPlaneJob(
            runID: "20261206-150102-ab12", step: "backup.create", arguments: ["backup-create"],
            environment: ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "HOME": "/root"])
        #expect(job.name == "drctl-20261206-150102-ab12-backup-create")
        let json = String(decoding: try job.json(namespace: "prod"), as: UTF8.self)
        #expect(!json.contains(Self.password) && !json.contains("AKIA"))
        #expect(
            json.contains(#""secretKeyRef":{"key":"DB_PASSWORD","name":"drctl-20261206-150102-ab12-backup-create"}"#))
        #expect(json.contains(#""envFrom":[{"secretRef":{"name":"drctl-20261206-150102-ab12-backup-create"}}]"#))
        #expect(json.contains(#""args":["agent","backup-create"]"#))
        #expect(json.contains(#""backoffLimit":0"#))
        let manifest = try Manifest.fromDataPlaneJob(
            environment: [Manifest.jobManifestVariable: try #require(job.environment[Manifest.jobManifestVariable])])
        #expect(manifest.database.password == .env("DB_PASSWORD"))
        #expect(manifest.database.dataPlane == .local)
        #expect(manifest.backups.local.absolute == Manifest.jobBackupFolder)

        let values = try #require(secret).data.mapValues {
            String(decoding: Data(base64Encoded: $0) ?? Data(), as: UTF8.self)
        }
        #expect(
            values == [
                "DB_PASSWORD": Self.password, "AWS_ACCESS_KEY_ID": "AKIA", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            ])
    }

    @Test func theSigningKeyReachesTheAgentThroughTheSecretOnly() throws {
        var toolbox = toolbox()
        toolbox.manifest.backups.signingKey = .file(ManifestPath(written: "/etc/key", absolute: "/etc/key"))
        toolbox.recordSigningKey = SecretValue("s1gn-k3y")
        let (job, secret) = try toolbox.dataPlaneJob(runID: "r1", step: "backup.create", arguments: ["backup-create"])
        let json = String(decoding: try job.json(namespace: "prod"), as: UTF8.self)
        #expect(!json.contains("s1gn-k3y"))
        let values = try #require(secret).data.mapValues {
            String(decoding: Data(base64Encoded: $0) ?? Data(), as: UTF8.self)
        }
        #expect(values["DRCTL_BACKUP_SIGNING_KEY"] == "s1gn-k3y")
        // The agent reads it from the variable the Secret sets, whatever the operator's manifest names.
        let manifest = try Manifest.fromDataPlaneJob(
            environment: [Manifest.jobManifestVariable: try #require(job.environment[Manifest.jobManifestVariable])])
        #expect(manifest.backups.signingKey == .env("DRCTL_BACKUP_SIGNING_KEY"))
        let agent = try BackupAgent.toolbox(
            environment: [
                Manifest.jobManifestVariable: try #require(job.environment[Manifest.jobManifestVariable]),
                "DB_PASSWORD": "x", "DRCTL_BACKUP_SIGNING_KEY": "s1gn-k3y",
            ])
        #expect(agent.recordSigningKey?.value == "s1gn-k3y")
    }

    @Test func namedSecretsAreUsedAndNoneIsCreated() throws {
        let (job, secret) = try toolbox(
            Manifest.DataPlaneJobs(
                passwordSecret: .init(name: "valeo-db", key: "password"), environmentSecret: "offsite",
                backupClaim: "backups")
        ).dataPlaneJob(
            runID: "r1", step: "backup.create", arguments: ["backup-create"], environment: ["AWS_REGION": "x"])
        #expect(secret == nil)
        let json = String(decoding: try job.json(namespace: "prod"), as: UTF8.self)
        #expect(json.contains(#""secretKeyRef":{"key":"password","name":"valeo-db"}"#))
        #expect(json.contains(#""envFrom":[{"secretRef":{"name":"offsite"}}]"#))
        #expect(json.contains(#""persistentVolumeClaim":{"claimName":"backups"}"#))
    }

    @Test func aJobThatIsAlreadyThereIsFollowedNotCreated() async throws {
        let verdict = AgentVerdict(command: "backup-create", succeeded: true, file: "f.sql.gz", sha256: "ab", bytes: 3)
        let runner = RecordingCommandRunner { invocation in
            let arguments = invocation.arguments
            var output = ""
            if arguments.contains("job"), arguments.contains("get") {
                output = #"{"status": {"conditions": [{"type": "Complete", "status": "True"}]}}"#
            } else if arguments.contains("pods") {
                output = try Self.podList(exitCode: 0, message: verdict.encodedLine())
            }
            return CommandResult(invocation: invocation, status: .exited(0), standardOutput: Data(output.utf8))
        }
        let (job, secret) = try toolbox().dataPlaneJob(runID: "r1", step: "backup.create", arguments: ["backup-create"])
        let read = try await JobRunner(kubectl: toolbox().kubectl, runner: runner, pollInterval: .zero).run(
            job, secret: secret, progress: .init(log: { _ in }))
        #expect(read == verdict)
        let verbs = runner.invocations.map { $0.arguments.first { ["create", "apply", "delete"].contains($0) } }
        #expect(!verbs.contains("create") && !verbs.contains("apply"), "a second Job or Secret was created")
        #expect(verbs.filter { $0 == "delete" }.count == 2, "the Job and its Secret are deleted")
    }

    @Test func aFailedJobKeepsItsKindAndItsLogTail() async throws {
        let verdict = AgentVerdict(
            command: "backup-create", succeeded: false, error: "under the size floor.", failureKind: "refused")
        let runner = Self.fakeKubectl(
            verdict: verdict, exitCode: 3,
            log: "dumping\npg_dump: 12 bytes\n" + AgentVerdict.marker + (try verdict.encodedLine()) + "\n",
            status: { _, _ in Self.failed })
        let (job, secret) = try toolbox().dataPlaneJob(runID: "r1", step: "backup.create", arguments: ["backup-create"])
        let lines = Mutex<[String]>([])
        let error = await #expect(throws: DataPlaneJobError.self) {
            try await JobRunner(kubectl: toolbox().kubectl, runner: runner, pollInterval: .zero).run(
                job, secret: secret, progress: .init(log: { line in lines.withLock { $0.append(line) } }))
        }
        #expect(error?.failureKind == .refused)
        let text = error?.errorDescription ?? ""
        #expect(text.contains("failed (its container exited 3): under the size floor. The Job was deleted"), "\(text)")
        #expect(text.contains("  | pg_dump: 12 bytes") && !text.contains(AgentVerdict.marker), "\(text)")
        #expect(lines.withLock { $0 }.contains("[job] pg_dump: 12 bytes"))
        let creates = runner.invocations.filter { $0.arguments.contains("create") || $0.arguments.contains("apply") }
        #expect(creates.map { $0.arguments.contains("-") } == [true, true], "not both on stdin")
        for invocation in runner.invocations {
            #expect(!invocation.arguments.joined(separator: " ").contains(Self.password))
            #expect(!invocation.redactedCommandLine.contains(Self.password))
        }
    }

    /// The plan is rendered from the invocations the runner runs: every command a run starts is in the plan
    /// (with its kubeconfig, context and namespace), byte for byte, and the plan names nothing the run does not.
    @Test func thePlanShowsExactlyTheCommandsTheRunRuns() async throws {
        var toolbox = toolbox()
        toolbox.kubectl = Kubectl(context: "ctx", namespace: "prod", kubeconfig: "/home/op/.kube/config")
        let verdict = AgentVerdict(command: "backup-create", succeeded: true, file: "f.sql.gz", sha256: "ab", bytes: 3)
        // Complete once the log is followed: the run then has started every command it can.
        let runner = Self.fakeKubectl(
            verdict: verdict, log: "dumping\n",
            status: { follows, polls in follows > 0 || polls > 200 ? Self.complete : Self.active })
        let (job, secret) = try toolbox.dataPlaneJob(
            runID: "r1", step: "backup.create", arguments: ["backup-create"], environment: ["AWS_REGION": "eu-1"])
        let jobs = JobRunner(kubectl: toolbox.kubectl, runner: runner, pollInterval: .zero)
        #expect(try await jobs.run(job, secret: secret, progress: .init(log: { _ in })) == verdict)

        struct Argv: Hashable {
            var executable: String
            var arguments: [String]
            var input: CommandInvocation.StandardInput
        }
        let ran = runner.invocations.map {
            Argv(executable: $0.executable, arguments: $0.arguments, input: $0.standardInput)
        }
        let planned = try jobs.plannedInvocations(job, secret: secret)
        #expect(
            Set(ran)
                == Set(
                    planned.map { Argv(executable: $0.executable, arguments: $0.arguments, input: $0.standardInput) }))
        #expect(
            ran.allSatisfy { $0.arguments.starts(with: ["--kubeconfig", "/home/op/.kube/config", "--context", "ctx"]) })

        let lines = jobs.plannedCommands(
            job, secret: secret, notes: .init(secretHolds: "DB_PASSWORD", detail: "", inPod: ["pg_dump"], verdict: "v"))
        for invocation in runner.invocations {
            var shown = invocation
            shown.standardInput = .none
            #expect(lines.contains { $0.hasPrefix(shown.redactedCommandLine) }, "\(shown) is not in the plan: \(lines)")
        }
        #expect(!lines.joined().contains(Self.password))
    }

    /// The pod's log is followed by `kubectl logs -f`, not polled: a follow that ends before the Job (the pod not
    /// started yet, a dropped connection) is started again and its repeated lines are not printed twice; the
    /// complete log read once at the end adds what the follows missed. Each line once, in order.
    @Test func theLogIsFollowedAndEachLineShownOnceInOrder() async throws {
        let verdict = AgentVerdict(command: "backup-create", succeeded: true, file: "f.sql.gz", sha256: "ab", bytes: 3)
        // The first follow ends before the pod wrote anything, the second after one line, the third after two.
        let runner = Self.fakeKubectl(
            verdict: verdict, log: "one\ntwo\nthree\n" + AgentVerdict.marker + (try verdict.encodedLine()) + "\n",
            follow: { ["", "one\n", "one\ntwo\n"][min($0, 3) - 1] },
            status: { follows, polls in follows >= 3 || polls > 200 ? Self.complete : Self.active })
        let (job, secret) = try toolbox().dataPlaneJob(runID: "r1", step: "backup.create", arguments: ["backup-create"])
        let lines = Mutex<[String]>([])
        let read = try await JobRunner(kubectl: toolbox().kubectl, runner: runner, pollInterval: .zero).run(
            job, secret: secret, progress: .init(log: { line in lines.withLock { $0.append(line) } }))
        #expect(read == verdict)
        #expect(lines.withLock { $0 }.filter { $0.hasPrefix("[job] ") } == ["[job] one", "[job] two", "[job] three"])
        let logs = runner.invocations.filter { $0.arguments.contains("logs") }
        #expect(logs.filter { $0.arguments.contains("-f") }.count >= 3, "the log was not followed")
        #expect(logs.filter { !$0.arguments.contains("-f") }.count == 1, "the log was polled")
    }

    static let complete = #"{"status": {"conditions": [{"type": "Complete", "status": "True"}]}}"#
    static let failed = #"{"status": {"conditions": [{"type": "Failed", "status": "True"}]}}"#
    static let active = #"{"status": {"active": 1}}"#

    /// A kubectl fake for one Job: `get job` is NotFound until `create -f -`, then `status(follows, polls)` (its
    /// JSON; `follows`: how often `logs -f` started, `polls`: how often the Job was read); the n-th `logs -f`
    /// prints `follow(n)`, `logs` prints `log`, `get pods` lists one pod that exited `exitCode` with `verdict`.
    static func fakeKubectl(
        verdict: AgentVerdict, exitCode: Int32 = 0, log: String,
        follow: @escaping @Sendable (Int) -> String = { _ in "" },
        status: @escaping @Sendable (_ follows: Int, _ polls: Int) -> String
    ) -> RecordingCommandRunner {
        struct Calls {
            var created = false
            var follows = 0
            var polls = 0
        }
        let calls = Mutex(Calls())
        return RecordingCommandRunner { invocation in
            let arguments = invocation.arguments
            var output = ""
            var exit: TerminationStatus = .exited(0)
            var stderr = ""
            if arguments.contains("create") {
                calls.withLock { $0.created = true }
            } else if arguments.contains("job"), arguments.contains("get") {
                let (created, follows, polls) = calls.withLock { calls in
                    calls.polls += 1
                    return (calls.created, calls.follows, calls.polls)
                }
                if created {
                    output = status(follows, polls)
                } else {
                    exit = .exited(1)
                    stderr = #"Error from server (NotFound): jobs.batch "x" not found"#
                }
            } else if arguments.contains("logs"), arguments.contains("-f") {
                output = follow(
                    calls.withLock { calls in
                        calls.follows += 1
                        return calls.follows
                    })
            } else if arguments.contains("logs") {
                output = log
            } else if arguments.contains("pods") {
                output = try podList(exitCode: exitCode, message: verdict.encodedLine())
            }
            return CommandResult(
                invocation: invocation, status: exit, standardOutput: Data(output.utf8), standardErrorTail: stderr)
        }
    }

    static func podList(exitCode: Int32, message: String) throws -> String {
        let pod: [String: Any] = [
            "metadata": ["name": "p"],
            "status": ["containerStatuses": [["state": ["terminated": ["exitCode": exitCode, "message": message]]]]],
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: ["items": [pod]]), as: UTF8.self)
    }
}

/// What `drctl plan backup --create-only` shows for `dataPlane: job`, and the nightly's refusal in job mode.
@Suite struct JobBackupPlanTests {
    /// This machine has pigz (a PATH with an executable `pigz`), the image does not.
    private func toolbox() throws -> ScenarioToolbox {
        var manifest = RollbackFixtures.manifest()
        manifest.database.dataPlane = .job
        manifest.database.jobs = Manifest.DataPlaneJobs(image: "registry.example/drctl:1.2.3", backupClaim: "backups")
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-pigz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try #require(
            FileManager.default.createFile(
                atPath: bin + "/pigz", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        return ScenarioToolbox(
            manifest: manifest, databasePassword: SecretValue(JobRunnerTests.password),
            executables: ToolExecutables(environment: ["PATH": bin]))
    }

    @Test func theCreateStepShowsTheJobItsCommandAndTheRBAC() throws {
        let toolbox = try toolbox()
        #expect(toolbox.gzip.compressor == "pigz", "the fixture's PATH has no pigz")
        let runbook = try BackupScenario(toolbox: toolbox, options: .init(createOnly: true), workRoot: "/w")
            .runbook()
        #expect(runbook.steps.map(\.id) == [BackupScenario.createStep, "scratch.cleanup"])
        let commands = try #require(runbook.step(BackupScenario.createStep)).commands
        #expect(
            commands.contains {
                $0.hasSuffix(
                    "kubectl --context ctx --namespace prod create -f - <<< Job drctl-<run>-backup-create:"
                        + " registry.example/drctl:1.2.3"
                        + " drctl agent backup-create (DB_PASSWORD from secretKeyRef drctl-<run>-backup-create/DB_PASSWORD,"
                        + " backup folder /var/lib/drctl/backups on claim backups)")
            }, "\(commands)")
        #expect(
            commands.contains {
                $0.hasSuffix(
                    "kubectl --context ctx --namespace prod create role drctl-data-plane"
                        + " --verb=create,get,list,watch,delete,patch --resource=jobs.batch,secrets,pods,pods/log")
            }, "\(commands)")
        #expect(commands.contains { $0.contains("create rolebinding drctl-data-plane --role=drctl-data-plane") })
        // The image has no pigz: `compressor: auto` is gzip in the Job, whatever this machine has.
        #expect(
            commands.contains {
                $0.hasPrefix("  in the Job: PGPASSWORD='***' pg_dump")
                    && $0.contains("| gzip -c | (sha256 and byte count in drctl) >")
            })
        #expect(!commands.joined().contains(JobRunnerTests.password))
    }

    @Test func theNightlyIsRefusedInJobMode() throws {
        let error = #expect(throws: DataPlaneJobError.self) {
            try BackupScenario(toolbox: try toolbox(), workRoot: "/w").runbook()
        }
        #expect(error?.failureKind == .usage)
    }
}
