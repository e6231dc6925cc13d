import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `database.dataPlane: job` through the real drctl binary: `drctl backup create` runs `drctl agent
/// backup-create` in a Kubernetes Job from drctl's image (built by `scripts/image build --dev` from this build),
/// which the stand-in's kubelet runs as a runc container. The manifest's database host is
/// `postgresql.<namespace>.svc.cluster.local`, which resolves only inside the pod, and drctl's own pg_dump is
/// `/bin/false`: a backup proves the dump ran in the Job. The real kubectl, pg_dump, gzip and aws (moto) work.
@Suite(.serialized) struct JobBackupTests {
    @Test("backup create in a Job: the dump in S3 with its sidecar, the catalog entry in the claim, the Job gone")
    func aJobBacksUpIntoS3AndTheClaim() async throws {
        try await JobWorld.with { world in
            let result = try await DrctlProcess.run(
                world.drctl, ["backup", "create", "-f", world.manifest], environment: world.environment)
            #expect(result.status == 0, "drctl backup create failed:\n\(result.output)\n\(result.errors)")
            #expect(result.output.contains("[job] drctl agent: "), "the pod's log did not reach the run's output")
            // Followed (`kubectl logs -f`: the stand-in serves the pod's log with follow=true), not polled; each of
            // the pod's lines once, in the order the pod wrote them.
            let follows = world.kube.requestLog.split(separator: "\n").filter {
                $0.hasPrefix("GET ") && $0.contains("/log?") && $0.contains("follow=true")
            }
            #expect(!follows.isEmpty, "the pod's log was not followed:\n\(world.kube.requestLog)")
            let podLines = result.output.split(separator: "\n").filter { $0.contains("[job] ") }
            #expect(Set(podLines).count == podLines.count, "a pod log line was printed twice:\n\(result.output)")
            #expect(podLines.first?.contains("[job] drctl agent: ") == true, "\(podLines)")

            let catalog = try BackupFolder(root: world.claimFolder).catalogStore.load()
            let daily = try #require(catalog.records.first { $0.tier == .daily }, "no daily record in the claim")
            let key = "postgresql/daily/" + daily.fileName
            let object = try await world.download(key)
            #expect(Int64(object.count) == daily.size)
            #expect(SHA256Checksum.of(object) == daily.sha256)
            let sidecar = String(decoding: try await world.download(key + ".sha256"), as: UTF8.self)
            #expect(sidecar == "\(daily.sha256)  \(daily.fileName)\n")
            #expect(daily.copy(in: .s3)?.sha256 == daily.sha256, "the catalog does not record the S3 copy")
            #expect(result.output.contains("sha256 \(daily.sha256)"))

            #expect(try await world.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the finished Job was kept")
            #expect(
                try await world.kubectl(["get", "secrets", "-l", "app.kubernetes.io/managed-by=drctl", "-o", "name"])
                    .isEmpty, "the Job's Secret was kept")
            try world.expectPasswordNowhere(besides: result)
        }
    }

    @Test("a Job whose pg_dump fails (wrong password): the run fails with the pod's log tail, exit 1")
    func aFailingJobFailsTheRunWithItsLogTail() async throws {
        try await JobWorld.with { world in
            var environment = world.environment
            environment["DRCTL_PG_PASSWORD"] = "not-the-password"
            let result = try await DrctlProcess.run(
                world.drctl, ["backup", "create", "-f", world.manifest], environment: environment)
            #expect(result.status == 1, "\(result.output)\n\(result.errors)")
            #expect(result.errors.contains("failed (its container exited 1)"), "\(result.errors)")
            #expect(result.errors.contains("its pod's last log lines:"), "\(result.errors)")
            #expect(result.errors.contains("password authentication failed"), "no pod log tail in:\n\(result.errors)")
            #expect(try await world.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the failed Job was kept")
            #expect(try await world.listing().isEmpty, "a failed dump was uploaded")
        }
    }

    @Test("drctl killed while its Job runs: resume follows that Job, no second one, one backup")
    func resumeAdoptsTheJobOfAKilledRun() async throws {
        try await JobWorld.with { world in
            // The Job's pg_dump waits on a table the test has locked: drctl is killed while its Job runs.
            let hold = try await LockHold(
                stack: world.fixture.stack, database: world.fixture.database, lockingTable: "documents_line")
            defer { hold.terminate() }
            let killed = try await DrctlProcess.runKilled(
                world.drctl, ["backup", "create", "-f", world.manifest, "-o", "json"], environment: world.environment,
                whenOutputContains: "created in namespace", delay: .zero,
                andCondition: {
                    (try? await LockHold.backendWaits(
                        world.fixture.stack, database: world.fixture.database, application: "pg_dump")) == true
                })
            #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
            try await hold.release()
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
            let job = JobRunner.jobName(runID: runID, step: BackupScenario.createStep)

            // The Job outlived drctl; its spec names the password only as a Secret reference.
            let spec = try await world.kubectl(["get", "job", job, "-o", "json"])
            #expect(spec.contains("\"secretKeyRef\""), "\(spec)")
            #expect(!spec.contains(world.password) && !spec.contains(world.password.base64), "password in \(spec)")

            let resumed = try await DrctlProcess.run(
                world.drctl, ["resume", runID, "--state-dir", world.state], environment: world.environment)
            #expect(resumed.status == 0, "resume failed:\n\(resumed.output)\n\(resumed.errors)")
            #expect(resumed.output.contains("Job \(job) is already there"), "\(resumed.output)")
            let creates = world.kube.requestLog.split(separator: "\n").filter {
                $0.hasPrefix("POST /apis/batch/v1/namespaces/\(world.namespace)/jobs") && $0.contains("-> 201")
            }
            #expect(creates.count == 1, "Jobs created: \(creates)")
            let backups = try await world.listing().filter { $0.hasPrefix("postgresql/daily/") && $0.hasSuffix(".gz") }
            #expect(backups.count == 1, "backups in S3: \(backups)")
            #expect(try await world.kubectl(["get", "jobs", "-o", "name"]).isEmpty)
            try world.expectPasswordNowhere(besides: resumed)
        }
    }
}

/// A seeded database, a bucket, a private kube stand-in whose kubelet runs drctl's image, the namespace with a
/// `postgresql` Service and a claim, and a job-mode manifest.
struct JobWorld {
    let fixture: BackupFixture
    let kube: KubeStandIn
    let drctl: String
    let namespace = "jobs"
    let bucket: String
    let state: String
    let manifest: String
    let environment: [String: String]
    var password: String { fixture.stack.postgresPassword }
    var claimFolder: String { kube.kubeletDirectory + "/pvc/\(namespace)/drctl-backups" }

    static func with(_ body: (JobWorld) async throws -> Void) async throws {
        let fixture = try BackupFixture()
        _ = try TestPrograms.kubectl()
        let layout = try await DrctlImage.layout()
        let kube = try KubeStandIn(projectRoot: TestPrograms.projectRoot, imageLayout: layout)
        let bucket = "drctl-job-it-\(UUID().uuidString.prefix(8).lowercased())"
        let state = fixture.root + "/state"
        var environment = fixture.stack.variables.filter { !$0.key.hasPrefix("DB_") }
        environment["KUBECONFIG"] = kube.kubeconfig
        environment["DRCTL_STATE_DIR"] = state
        environment["HOME"] = fixture.root
        environment["DRCTL_PG_DUMP"] = "/bin/false"  // a dump on this side fails: only the Job's can succeed
        let manifest = fixture.root + "/manifests/job.yaml"
        let yaml = """
            environment: job-tests
            kube:
              namespace: jobs
              kubeconfig: \(kube.kubeconfig)
            database:
              host: postgresql.jobs.svc.cluster.local
              port: \(fixture.stack.postgresPort)
              user: \(fixture.stack.postgresUser)
              name: \(fixture.database)
              password: { env: DRCTL_PG_PASSWORD }
              dataPlane: job
              jobs: { backupClaim: drctl-backups }
            backups:
              local: backups
              sizeFloor: 16KiB
              retention: { daily: 30, monthly: 12 }
              s3: { bucket: \(bucket), prefix: postgresql/ }
            releases:
              postgresql: { name: postgresql, chart: bitnami/postgresql }
              app: { name: app, chart: ./chart, deployment: app, replicas: 1 }
            readiness: { url: "http://127.0.0.1:1/readyz" }
            objectives: { rpo: 24h, rto: 4h }

            """
        try yaml.write(toFile: manifest, atomically: true, encoding: .utf8)
        let world = JobWorld(
            fixture: fixture, kube: kube, drctl: try DrctlProcess.binary(), bucket: bucket, state: state,
            manifest: manifest, environment: environment)
        _ = try await world.aws(["s3", "mb", "s3://\(bucket)"])
        _ = try await world.kubectl(["create", "namespace", "jobs"])
        _ = try await world.kubectl(["create", "service", "clusterip", "postgresql", "--tcp=5432:5432"])
        let claim = """
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "drctl-backups"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
            """
        _ = try await world.fixture.runner.runChecked(
            CommandInvocation(
                "kubectl", ["--kubeconfig", kube.kubeconfig, "--namespace", "jobs", "create", "-f", "-"],
                standardInput: .bytes(Data(claim.utf8))))
        try await fixture.seeded { try await body(world) }
    }

    @discardableResult
    func kubectl(_ arguments: [String]) async throws -> String {
        let invocation = CommandInvocation(
            "kubectl", ["--kubeconfig", kube.kubeconfig, "--namespace", namespace] + arguments)
        return try await fixture.runner.runChecked(invocation).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    func aws(_ arguments: [String]) async throws -> String {
        try await fixture.runner.runChecked(CommandInvocation(try TestPrograms.aws(), arguments)).output
    }

    func download(_ key: String) async throws -> Data {
        let path = fixture.root + "/download-" + UUID().uuidString
        try await aws(["s3", "cp", "s3://\(bucket)/\(key)", path, "--only-show-errors"])
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Every key in the bucket.
    func listing() async throws -> [String] {
        let output = try await aws(["s3api", "list-objects-v2", "--bucket", bucket, "--output", "json"])
        return try S3ObjectStore(bucket: bucket).parseList(Data(output.utf8)).map(\.key)
    }

    /// Neither the password nor its base64 form in drctl's output, its journal and state, or its argv records.
    func expectPasswordNowhere(besides result: DrctlProcess.Result) throws {
        for secret in [password, password.base64] {
            #expect(!result.output.contains(secret) && !result.errors.contains(secret), "the password was printed")
            let files = FileManager.default.enumerator(atPath: state)?.compactMap { $0 as? String } ?? []
            for file in files {
                let text = (try? String(contentsOfFile: state + "/" + file, encoding: .utf8)) ?? ""
                #expect(!text.contains(secret), "the password is in \(file)")
            }
        }
    }
}

/// drctl's image with this build's binary (`scripts/image build --dev`, cached per binary): the one the
/// kubelet runs. Fails naming that step when it cannot be built.
enum DrctlImage {
    static func layout() async throws -> String {
        let script = TestPrograms.projectRoot + "/scripts/image"
        let result = try await CommandRunner().run(CommandInvocation(script, ["build", "--dev"]))
        let reference = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(
            result.status.isSuccess && reference.contains(":"),
            """
            drctl's image could not be built: run scripts/image build --dev (as root, after scripts/bootstrap and \
            swift build)
            \(result.standardErrorTail)
            """)
        return String(reference[..<(reference.lastIndex(of: ":") ?? reference.endIndex)])
    }
}

extension String {
    fileprivate var base64: String { Data(utf8).base64EncodedString() }
}
