import DrctlTestSupport
import Foundation
import Testing

@testable import DrctlCore

/// The tool wrappers doing real work against the local stack (`scripts/stack up`): PostgreSQL 15, moto S3 and
/// the Kubernetes API stand-in, through the real psql/pg_dump/pg_restore, gzip, alembic, aws, kubectl and helm.
/// Each test uses its own database, bucket or namespace, so the tests can run beside others on the same stack.
@Suite("Tool wrappers against the local stack", .serialized)
struct ToolLiveTests {
    let runner = CommandRunner()

    // MARK: PostgreSQL + gzip

    @Test func databaseLifecycleDumpRestoreAndCopy() async throws {
        let postgres = try LiveStack.postgres()
        let password = try #require(postgres.connection.password)
        let suffix = LiveStack.uniqueSuffix()
        let source = "drctl_tools_\(suffix)"
        let plainCopy = source + "_plain"
        let archiveCopy = source + "_archive"
        // A name libpq would otherwise read as a connection string ("=").
        let renamed = source + "_re=named"
        let work = try LiveStack.temporaryDirectory()
        let dropDatabases: () async -> Void = { [runner] in
            for name in [source, plainCopy, archiveCopy, renamed] {
                _ = try? await runner.run(postgres.dropDatabase(name, force: true))
            }
        }
        try await withTearDown(dropDatabases) {

            #expect(Postgres.parseExists(try await run(postgres.databaseExists(source)).output) == false)
            try await run(postgres.createDatabase(source))
            #expect(Postgres.parseExists(try await run(postgres.databaseExists(source)).output))

            let database = Postgres(connection: postgres.connection.with(database: source))
            try await run(
                database.query(
                    """
                    CREATE TABLE documents_header (id int PRIMARY KEY, title text NOT NULL);
                    INSERT INTO documents_header VALUES (1, 'invoice'), (2, 'it''s a credit note');
                    CREATE TABLE documents_restored (LIKE documents_header);
                    """))
            let rows = Postgres.parseRows(
                try await run(database.query("SELECT id, title FROM documents_header ORDER BY id")).output)
            #expect(rows == [["1", "invoice"], ["2", "it's a credit note"]])

            // \copy out as CSV, then back in from a file.
            let csv = try await run(try database.copyOut(query: "SELECT * FROM documents_header WHERE id = 2")).output
            #expect(csv == "id,title\n2,it's a credit note\n")
            let csvFile = work + "/rows.csv"
            try Data(csv.utf8).write(to: URL(fileURLWithPath: csvFile))
            try await run(database.copyIn(table: "public.documents_restored", columns: ["id", "title"], from: csvFile))
            #expect(
                Postgres.parseValue(try await run(database.query("SELECT title FROM documents_restored")).output)
                    == "it's a credit note")

            // pg_dump | gzip -c > file, gzip -t, then gzip -dc file | psql into a fresh database.
            let dumpFile = work + "/\(source).sql.gz"
            let dumped = try await runner.run(
                CommandPipeline([database.dump(), Gzip().compress()], output: .file(dumpFile)))
            try dumped.checked()
            let integrity = try await runner.run(Gzip().test(file: dumpFile))
            try Gzip.classifyIntegrity(integrity, file: dumpFile).get()
            try await run(postgres.createDatabase(plainCopy))
            let plainTarget = Postgres(connection: postgres.connection.with(database: plainCopy))
            let restored = try await runner.run(
                CommandPipeline([Gzip().decompress(file: dumpFile), plainTarget.runScript(singleTransaction: true)]))
            try restored.checked()
            #expect(
                Postgres.parseValue(try await run(plainTarget.query("SELECT count(*) FROM documents_header")).output)
                    == "2"
            )

            // pg_dump -Fc, pg_restore -j into another database, then rename it.
            let archive = work + "/\(source).dump"
            try await run(database.dump(format: .custom, file: archive))
            try await run(postgres.createDatabase(archiveCopy))
            let archiveTarget = Postgres(connection: postgres.connection.with(database: archiveCopy))
            try await run(archiveTarget.restoreArchive(file: archive, jobs: 2))
            #expect(
                Postgres.parseValue(try await run(archiveTarget.query("SELECT count(*) FROM documents_header")).output)
                    == "2")
            try await run(postgres.renameDatabase(archiveCopy, to: renamed))
            #expect(Postgres.parseExists(try await run(postgres.databaseExists(renamed)).output))
            let renamedDatabase = Postgres(connection: postgres.connection.with(database: renamed))
            #expect(
                Postgres.parseValue(try await run(renamedDatabase.query("SELECT current_database()")).output) == renamed
            )
            #expect(!Postgres.parseExists(try await run(postgres.databaseExists(archiveCopy)).output))

            for name in [source, plainCopy, renamed] {
                try await run(postgres.dropDatabase(name, force: true))
                #expect(!Postgres.parseExists(try await run(postgres.databaseExists(name)).output))
            }
            // Dropping what is gone is not an error (IF EXISTS): a step that runs twice is safe.
            try await run(postgres.dropDatabase(source))

            // The password went through the environment only.
            let failure = try await runner.run(postgres.query("SELECT * FROM no_such_table"))
            #expect(!failure.status.isSuccess)
            #expect(!(failure.standardErrorTail + failure.invocation.redactedCommandLine).contains(password))
        }
    }

    @Test func corruptDumpsAreRefused() async throws {
        let work = try LiveStack.temporaryDirectory()
        let good = work + "/good.sql.gz"
        try await runner.run(
            CommandPipeline([Gzip().compress().withInput("SELECT 1;\n")], output: .file(good))
        ).checked()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let truncated = work + "/truncated.sql.gz"
        try bytes.prefix(bytes.count - 4).write(to: URL(fileURLWithPath: truncated))
        let trailing = work + "/trailing.sql.gz"
        try (bytes + Data("garbage".utf8)).write(to: URL(fileURLWithPath: trailing))

        try Gzip.classifyIntegrity(try await runner.run(Gzip().test(file: good)), file: good).get()
        let truncatedResult = try await runner.run(Gzip().test(file: truncated))
        #expect(truncatedResult.status == .exited(1))
        #expect(throws: GzipIntegrityError.self) { try Gzip.classifyIntegrity(truncatedResult, file: truncated).get() }
        let trailingResult = try await runner.run(Gzip().test(file: trailing))
        #expect(trailingResult.status == .exited(2))
        guard case .failure(.trailingGarbage) = Gzip.classifyIntegrity(trailingResult, file: trailing) else {
            Issue.record("trailing garbage was not refused")
            return
        }
    }

    // MARK: alembic

    @Test func alembicUpgradesAndDowngrades() async throws {
        let postgres = try LiveStack.postgres()
        let password = try #require(postgres.connection.password)
        let databaseName = "drctl_tools_alembic_\(LiveStack.uniqueSuffix())"
        try await run(postgres.createDatabase(databaseName))
        let dropDatabase: () async -> Void = { [runner] in
            _ = try? await runner.run(postgres.dropDatabase(databaseName, force: true))
        }
        try await withTearDown(dropDatabase) {
            let project = try LiveStack.alembicProject(connection: postgres.connection.with(database: databaseName))
            let alembic = Alembic(
                executable: try TestPrograms.alembic(), configPath: "alembic.ini", workingDirectory: project,
                environment: ["PGPASSWORD": password], secrets: [password])

            #expect(try Alembic.parseCurrent(try await run(alembic.current()).output) == [])
            #expect(try Alembic.parseRevisions(try await run(alembic.heads()).output).map(\.id) == ["0002"])
            let history = try Alembic.parseHistory(try await run(alembic.history()).output)
            #expect(history.map(\.revision.id) == ["0002", "0001"])
            #expect(history.map(\.parents) == [["0001"], []])

            try await run(alembic.upgrade())
            #expect(
                try Alembic.parseCurrent(try await run(alembic.current()).output) == [
                    AlembicRevision(id: "0002", markers: ["head"])
                ])
            try await run(alembic.downgrade(.steps(1)))
            #expect(try Alembic.parseCurrent(try await run(alembic.current()).output) == [AlembicRevision(id: "0001")])
            try await run(alembic.upgrade(to: "0002"))
            try await run(alembic.downgrade(.revision("0001")))
            #expect(try Alembic.parseCurrent(try await run(alembic.current()).output).map(\.id) == ["0001"])
            try await run(alembic.downgrade(.base))
            #expect(try Alembic.parseCurrent(try await run(alembic.current()).output) == [])

            let unknown = try await runner.run(alembic.upgrade(to: "9999"))
            #expect(unknown.status == .exited(255))
            guard case .alembicFailed(_, let message) = Alembic.classifyFailure(unknown) else {
                Issue.record(
                    "expected alembic's own error, got \(String(describing: Alembic.classifyFailure(unknown)))")
                return
            }
            #expect(message.contains("9999"))
            let tooFar = try await runner.run(alembic.downgrade(.steps(5)))
            #expect(tooFar.status == .exited(255))
        }
    }

    // MARK: S3 (moto)

    @Test func s3CopyListHeadSyncDelete() async throws {
        let aws = try TestPrograms.aws()
        _ = try LiveStack.require("AWS_ENDPOINT_URL")
        let bucket = "drctl-tools-\(LiveStack.uniqueSuffix())"
        try await run(CommandInvocation(aws, ["s3api", "create-bucket", "--bucket", bucket]))
        let store = S3ObjectStore(bucket: bucket, executable: aws)
        let work = try LiveStack.temporaryDirectory()
        let file = work + "/a.sql.gz"
        try Data("file body".utf8).write(to: URL(fileURLWithPath: file))

        try await run(try store.upload(.file(file), to: "postgresql/daily/a.sql.gz"))
        var streamUp = try store.upload(.stream, to: "postgresql/daily/b.sql.gz")
        streamUp.standardInput = .bytes(Data("streamed body".utf8))
        try await run(streamUp)

        let listed = try store.parseList(try await run(store.list(prefix: "postgresql/")).standardOutput)
        #expect(listed.map(\.key) == ["postgresql/daily/a.sql.gz", "postgresql/daily/b.sql.gz"])
        #expect(listed.map(\.size) == [9, 13])
        #expect(listed.allSatisfy { $0.lastModified != nil })
        #expect(try store.parseList(try await run(store.list(prefix: "nothing/")).standardOutput).isEmpty)

        let head = try store.parseHead(try await runner.run(store.head("postgresql/daily/b.sql.gz")))
        #expect(head?.size == 13)
        #expect(head?.lastModified != nil)
        #expect(try store.parseHead(try await runner.run(store.head("postgresql/daily/missing.sql.gz"))) == nil)

        let streamed = try await run(try store.download("postgresql/daily/b.sql.gz", to: .stream))
        #expect(streamed.output == "streamed body")
        try await run(try store.download("postgresql/daily/a.sql.gz", to: .file(work + "/down.sql.gz")))
        #expect(try String(contentsOfFile: work + "/down.sql.gz", encoding: .utf8) == "file body")

        let archiveSource = work + "/archive"
        try FileManager.default.createDirectory(atPath: archiveSource + "/2026", withIntermediateDirectories: true)
        try Data("pdf".utf8).write(to: URL(fileURLWithPath: archiveSource + "/2026/x.pdf"))
        try await run(store.syncUp(directory: archiveSource, prefix: "archives/"))
        let archiveDestination = work + "/restored-archive"
        try await run(store.syncDown(prefix: "archives/", directory: archiveDestination))
        #expect(try String(contentsOfFile: archiveDestination + "/2026/x.pdf", encoding: .utf8) == "pdf")

        for key in ["postgresql/daily/a.sql.gz", "postgresql/daily/b.sql.gz", "archives/2026/x.pdf"] {
            try await run(store.delete(key))
            #expect(try store.parseHead(try await runner.run(store.head(key))) == nil)
        }
        try await run(CommandInvocation(aws, ["s3api", "delete-bucket", "--bucket", bucket]))
    }

    /// A killed `aws s3 sync` leaves `<file>.<8 hex digits>` behind; the archive step of the resumed run removes
    /// exactly those (an object's name plus that suffix) and leaves every other file alone.
    @Test func archiveSyncRemovesWhatAnInterruptedSyncLeft() async throws {
        let aws = try TestPrograms.aws()
        _ = try LiveStack.require("AWS_ENDPOINT_URL")
        let bucket = "drctl-tools-\(LiveStack.uniqueSuffix())"
        try await run(CommandInvocation(aws, ["s3api", "create-bucket", "--bucket", bucket]))
        let store = S3ObjectStore(bucket: bucket, executable: aws)
        let work = try LiveStack.temporaryDirectory()
        for name in ["a.pdf", "2026/b.pdf"] {
            let file = work + "/upload"
            try Data("body of \(name)".utf8).write(to: URL(fileURLWithPath: file))
            try await run(try store.upload(.file(file), to: "archives/" + name))
        }
        let destination = work + "/archive"
        try FileManager.default.createDirectory(atPath: destination + "/2026", withIntermediateDirectories: true)
        let leftovers = ["2026/b.pdf.2aD8E567", "a.pdf.0123abcd"]
        let unrelated = ["notes.txt.ABCDEF12", "a.pdf.backup", "a.pdf.0123abc", "local-only.pdf"]
        for name in leftovers + unrelated {
            try Data("partial".utf8).write(to: URL(fileURLWithPath: destination + "/" + name))
        }
        let sync = try archiveSync(from: "s3://\(bucket)/archives/", to: destination, aws: aws)
        let outputs = try await sync.run(context: StepContext(runID: "archive", step: "archive", runner: runner))
        #expect(outputs["files"] == "2")
        #expect(outputs["removedPartialDownloads"] == "2")
        for name in leftovers { #expect(!FileManager.default.fileExists(atPath: destination + "/" + name)) }
        for name in unrelated { #expect(FileManager.default.fileExists(atPath: destination + "/" + name)) }
        #expect(try String(contentsOfFile: destination + "/2026/b.pdf", encoding: .utf8) == "body of 2026/b.pdf")
    }

    /// A shard of the archive (what each pod of the sync Job fetches) comes down in one `aws s3 sync` naming its
    /// missing keys, not one `aws s3 cp` per file: a key with fnmatch's `[`, `*` or `?` fetches only itself, not
    /// the key of the other shard its unescaped pattern would match; a file already there with its size stays.
    @Test func archiveShardComesDownInOneAwsSync() async throws {
        let aws = try TestPrograms.aws()
        _ = try LiveStack.require("AWS_ENDPOINT_URL")
        let bucket = "drctl-tools-\(LiveStack.uniqueSuffix())"
        try await run(CommandInvocation(aws, ["s3api", "create-bucket", "--bucket", bucket]))
        let shard = ArchiveShard(index: 0, count: 2)
        // each name in shard 0 beside a decoy in shard 1 that the name, read as a pattern, would match
        func pair(_ name: (Int) -> String, _ decoy: (Int) -> String) -> (String, String) {
            let n = (0..<500).first { shard.contains(name($0)) && !shard.contains(decoy($0)) } ?? 0
            return (name(n), decoy(n))
        }
        let pairs = [
            pair({ "2026/01/d[1]-\($0).pdf" }, { "2026/01/d1-\($0).pdf" }),
            pair({ "b*-\($0).pdf" }, { "bzz-\($0).pdf" }), pair({ "c?-\($0).pdf" }, { "cq-\($0).pdf" }),
        ]
        let kept = try #require((0..<500).map { "2026/02/kept-\($0).pdf" }.first { shard.contains($0) })
        let work = try LiveStack.temporaryDirectory()
        let store = S3ObjectStore(bucket: bucket, executable: aws)
        for name in pairs.flatMap({ [$0.0, $0.1] }) + [kept] {
            try Data("body of \(name)".utf8).write(to: URL(fileURLWithPath: work + "/upload"))
            try await run(try store.upload(.file(work + "/upload"), to: "archives/" + name))
        }
        let destination = work + "/archive"
        try FileManager.default.createDirectory(atPath: destination + "/2026/02", withIntermediateDirectories: true)
        try Data("body of \(kept)".utf8).write(to: URL(fileURLWithPath: destination + "/" + kept))
        let sync = try archiveSync(from: "s3://\(bucket)/archives/", to: destination, aws: aws)
        let tee = RecordingTee(runner)
        let result = try await sync.syncShard(shard, runner: tee, log: { _ in })
        #expect(result.files == 4 && result.downloaded == 3, "\(result)")
        for (name, decoy) in pairs {
            #expect(try String(contentsOfFile: destination + "/" + name, encoding: .utf8) == "body of \(name)")
            #expect(!FileManager.default.fileExists(atPath: destination + "/" + decoy), "\(decoy) is not in the shard")
        }
        let transfers = tee.invocations.filter { $0.arguments.first == "s3" }
        #expect(transfers.count == 1 && transfers.first?.arguments.prefix(2) == ["s3", "sync"], "\(transfers)")
        #expect(transfers.first?.arguments.filter { $0 == "--include" }.count == 3, "\(transfers)")
    }

    // MARK: Azure Blob (the real az against the stack's Blob stand-in)

    @Test func azureCopyListHeadSyncDelete() async throws {
        let az = try TestPrograms.az()
        let connection = try LiveStack.require("AZURE_STORAGE_CONNECTION_STRING")
        let container = "drctl-tools-\(LiveStack.uniqueSuffix())"
        try await run(
            CommandInvocation(
                az, ["storage", "container", "create", "--name", container, "--only-show-errors", "-o", "none"]))
        // The connection string is passed explicitly (as a manifest's secret would be) and must stay out of argv.
        let store = AzureBlobObjectStore(container: container, executable: az, connectionString: connection)
        let work = try LiveStack.temporaryDirectory()
        let file = work + "/a.sql.gz"
        try Data("file body".utf8).write(to: URL(fileURLWithPath: file))
        try Data("second".utf8).write(to: URL(fileURLWithPath: work + "/b.sql.gz"))

        let upload = try store.upload(.file(file), to: "postgresql/daily/a.sql.gz")
        #expect(!upload.arguments.joined(separator: " ").contains(connection))
        #expect(!upload.redactedCommandLine.contains(connection))
        try await run(upload)
        try await run(try store.upload(.file(work + "/b.sql.gz"), to: "postgresql/daily/b.sql.gz"))
        #expect(throws: ObjectStoreError.self) { try store.upload(.stream, to: "postgresql/daily/c.sql.gz") }

        let listed = try store.parseList(try await run(store.list(prefix: "postgresql/")).standardOutput)
        #expect(listed.map(\.key).sorted() == ["postgresql/daily/a.sql.gz", "postgresql/daily/b.sql.gz"])
        #expect(listed.first { $0.key == "postgresql/daily/a.sql.gz" }?.size == 9)
        #expect(try store.parseList(try await run(store.list(prefix: "nothing/")).standardOutput).isEmpty)

        let head = try store.parseHead(try await runner.run(store.head("postgresql/daily/b.sql.gz")))
        #expect(head?.size == 6)
        #expect(try store.parseHead(try await runner.run(store.head("postgresql/daily/missing.sql.gz"))) == nil)

        try await run(try store.download("postgresql/daily/a.sql.gz", to: .file(work + "/down.sql.gz")))
        #expect(try String(contentsOfFile: work + "/down.sql.gz", encoding: .utf8) == "file body")

        let archiveSource = work + "/archive"
        try FileManager.default.createDirectory(atPath: archiveSource + "/2026", withIntermediateDirectories: true)
        try Data("pdf".utf8).write(to: URL(fileURLWithPath: archiveSource + "/2026/x.pdf"))
        try await run(store.syncUp(directory: archiveSource, prefix: "archives/"))
        #expect(
            try store.parseList(try await run(store.list(prefix: "archives/")).standardOutput).map(\.key)
                == ["archives/2026/x.pdf"])
        // az wants an existing folder and keeps the key's prefix in the local path (aws s3 sync strips it) …
        let archiveDestination = work + "/restored-archive"
        try FileManager.default.createDirectory(atPath: archiveDestination, withIntermediateDirectories: true)
        try await run(store.syncDown(prefix: "archives/", directory: archiveDestination))
        #expect(try String(contentsOfFile: archiveDestination + "/archives/2026/x.pdf", encoding: .utf8) == "pdf")
        // … so the rebuild's archive step puts the files where the manifest says, like it does from S3.
        let sync = try archiveSync(from: "azure://\(container)/archives/", to: work + "/app-archive", az: az)
        try FileManager.default.createDirectory(atPath: work + "/app-archive/2026", withIntermediateDirectories: true)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: work + "/app-archive/2026/x.pdf"))
        let outputs = try await sync.run(context: StepContext(runID: "azure-archive", step: "archive", runner: runner))
        #expect(outputs["files"] == "1")
        #expect(try String(contentsOfFile: work + "/app-archive/2026/x.pdf", encoding: .utf8) == "pdf")
        #expect(!FileManager.default.fileExists(atPath: work + "/app-archive/archives"))
        #expect(!FileManager.default.fileExists(atPath: work + "/app-archive/.drctl-archive-staging"))

        for key in ["postgresql/daily/a.sql.gz", "postgresql/daily/b.sql.gz", "archives/2026/x.pdf"] {
            try await run(store.delete(key))
            #expect(try store.parseHead(try await runner.run(store.head(key))) == nil)
        }
        try await run(
            CommandInvocation(
                az, ["storage", "container", "delete", "--name", container, "--only-show-errors", "-o", "none"]))
    }

    // MARK: kubectl + helm (stand-in)

    @Test(arguments: HelmMajorVersion.allCases)
    func helmReleaseLifecycleAndKubectl(_ version: HelmMajorVersion) async throws {
        _ = try LiveStack.require("KUBECONFIG")
        let kubeURL = try LiveStack.require("DRCTL_KUBE_URL")
        let namespace = "drctl-tools-\(version == .v3 ? "h3" : "h4")-\(LiveStack.uniqueSuffix())"
        let target = KubeTarget(namespace: namespace)
        let kubectl = Kubectl(executable: try TestPrograms.kubectl(), target: target)
        var helm = Helm(executable: try TestPrograms.helm(version), target: target)
        helm.majorVersion = try HelmMajorVersion.parse(versionOutput: try await run(helm.version()).output)
        #expect(helm.majorVersion == version)
        let release = "sample"
        let chart = TestPrograms.projectRoot + "/charts/sample-app"
        let work = try LiveStack.temporaryDirectory()
        let values = work + "/values.yaml"
        try Data("replicaCount: 1\n".utf8).write(to: URL(fileURLWithPath: values))

        // Namespace: probe, create when missing, probe again.
        #expect(Kubectl.isNotFound(try await runner.run(kubectl.getNamespace(namespace))))
        try await run(kubectl.createNamespace(namespace))
        try await run(kubectl.getNamespace(namespace))
        #expect(try Kubectl.parseNamespaces(try await run(kubectl.getNamespaces()).standardOutput).contains(namespace))
        #expect(Helm.isReleaseNotFound(try await runner.run(helm.status(release: release))))

        let options = HelmUpgradeOptions(valuesFiles: [values], wait: true, timeout: .seconds(60), atomic: true)
        try await run(helm.upgradeInstall(release: release, chart: chart, options: options))
        // helm reuses the last release's values when an upgrade names none, so the second revision names its own.
        let twoReplicas = work + "/two-replicas.yaml"
        try Data("replicaCount: 2\n".utf8).write(to: URL(fileURLWithPath: twoReplicas))
        var second = options
        second.valuesFiles = [twoReplicas]
        try await run(helm.upgradeInstall(release: release, chart: chart, options: second))

        let deployment = try Kubectl.parseDeployment(try await run(kubectl.getDeployment(release)).standardOutput)
        #expect(deployment.replicas == 2)
        try await run(kubectl.rolloutStatus(deployment: release, timeout: .seconds(60)))
        #expect(try Kubectl.parseReplicas(try await run(kubectl.deploymentReplicas(release)).output) == 2)
        try await run(kubectl.scaleDeployment(release, replicas: 3))
        try await run(kubectl.rolloutStatus(deployment: release, timeout: .seconds(60)))
        try await run(
            kubectl.wait(for: .condition("Available"), resource: "deployment/\(release)", timeout: .seconds(60)))
        let scaled = try Kubectl.parseDeployment(try await run(kubectl.getDeployment(release)).standardOutput)
        #expect(scaled.replicas == 3)
        #expect(scaled.isFullyAvailable)
        let pods = try Kubectl.parsePods(
            try await run(kubectl.getPods(selector: "app.kubernetes.io/instance=\(release)")).standardOutput)
        #expect(pods.count == 3)
        #expect(pods.allSatisfy { $0.isReady && $0.phase == "Running" })

        let readyz = try #require(URL(string: "\(kubeURL)/_standin/apps/\(namespace)/\(release)/readyz"))
        let outcome = try await ReadinessProbe(url: readyz, timeout: .seconds(30)).waitUntilReady()
        #expect(outcome.statusCode == 200)

        try await run(helm.rollback(release: release, to: 1, wait: true, timeout: .seconds(60), cleanupOnFail: true))
        let history = try Helm.parseHistory(try await run(helm.history(release: release)).standardOutput)
        #expect(history.map(\.revision) == [1, 2, 3])
        #expect(history.map(\.status) == ["superseded", "superseded", "deployed"])
        #expect(history.last?.description == "Rollback to 1")
        let status = try Helm.parseStatus(try await run(helm.status(release: release)).standardOutput)
        #expect(status.revision == 3)
        #expect(status.status == "deployed")
        #expect(status.namespace == namespace)
        let listed = try Helm.parseList(try await run(helm.list(all: true)).standardOutput)
        #expect(listed.map(\.name) == [release])
        #expect(listed.first?.revision == 3)
        try await run(kubectl.rolloutStatus(deployment: release, timeout: .seconds(60)))
        #expect(try Kubectl.parseDeployment(try await run(kubectl.getDeployment(release)).standardOutput).replicas == 1)

        try await run(helm.uninstall(release: release, wait: true, timeout: .seconds(60)))
        #expect(Helm.isReleaseNotFound(try await runner.run(helm.status(release: release))))
        #expect(Kubectl.isNotFound(try await runner.run(kubectl.getDeployment(release))))
    }

    // MARK: Helpers

    /// The archive step from `source` into `destination`, with this aws or az.
    private func archiveSync(from source: String, to destination: String, aws: String? = nil, az: String? = nil)
        throws -> ArchiveSync
    {
        var executables = ToolExecutables()
        if let aws { executables.aws = aws }
        if let az { executables.az = az }
        return try ArchiveSync(
            archive: Manifest.Archive(
                source: source, destination: ManifestPath(written: "archive", absolute: destination)),
            executables: executables)
    }

    @discardableResult
    private func run(_ invocation: CommandInvocation) async throws -> CommandResult {
        try await runner.run(invocation.with(timeout: invocation.timeout ?? .seconds(120))).checked()
    }
}

/// Reads the local stack's exports (`eval "$(scripts/stack env)"`, done by scripts/test).
enum LiveStack {
    static func require(_ name: String) throws -> String {
        let value = ProcessInfo.processInfo.environment[name] ?? ""
        try #require(
            !value.isEmpty,
            "\(name) is not set: run scripts/bootstrap && scripts/stack up, then eval \"$(scripts/stack env)\"")
        return value
    }

    /// The password role (`DRCTL_PG_USER`, CREATEDB) on the stack's PostgreSQL, admin database `postgres`.
    static func postgres() throws -> Postgres {
        let port = try #require(Int(try require("PGPORT")), "PGPORT is not a number")
        return Postgres(
            connection: PostgresConnection(
                host: try require("PGHOST"), port: port, user: try require("DRCTL_PG_USER"), database: "postgres",
                password: try require("DRCTL_PG_PASSWORD")))
    }

    static func uniqueSuffix() -> String {
        String(UUID().uuidString.prefix(8)).lowercased()
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-tools-live-\(uniqueSuffix())")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// An alembic project with two hand-written revisions; the URL names no password (PGPASSWORD supplies it).
    static func alembicProject(connection: PostgresConnection) throws -> String {
        let root = try temporaryDirectory()
        let versions = root + "/migrations/versions"
        try FileManager.default.createDirectory(atPath: versions, withIntermediateDirectories: true)
        let url = "postgresql+psycopg://\(connection.user)@\(connection.host):\(connection.port)/\(connection.database)"
        try write(
            root + "/alembic.ini",
            """
            [alembic]
            script_location = migrations
            sqlalchemy.url = \(url)

            [loggers]
            keys = root

            [handlers]
            keys = console

            [formatters]
            keys = generic

            [logger_root]
            level = WARN
            handlers = console

            [handler_console]
            class = StreamHandler
            args = (sys.stderr,)
            formatter = generic

            [formatter_generic]
            format = %(levelname)-5.5s [%(name)s] %(message)s

            """)
        try write(
            root + "/migrations/env.py",
            """
            from alembic import context
            from sqlalchemy import engine_from_config, pool

            config = context.config
            connectable = engine_from_config(
                config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
            with connectable.connect() as connection:
                context.configure(connection=connection)
                with context.begin_transaction():
                    context.run_migrations()

            """)
        try write(
            root + "/migrations/script.py.mako",
            "revision = ${repr(up_revision)}\ndown_revision = ${repr(down_revision)}\n")
        try write(
            versions + "/0001_create_documents.py",
            """
            \"\"\"create documents\"\"\"
            from alembic import op
            import sqlalchemy as sa

            revision = "0001"
            down_revision = None

            def upgrade():
                op.create_table("documents_header", sa.Column("id", sa.Integer, primary_key=True))

            def downgrade():
                op.drop_table("documents_header")

            """)
        try write(
            versions + "/0002_add_title.py",
            """
            \"\"\"add title\"\"\"
            from alembic import op
            import sqlalchemy as sa

            revision = "0002"
            down_revision = "0001"

            def upgrade():
                op.add_column("documents_header", sa.Column("title", sa.Text))

            def downgrade():
                op.drop_column("documents_header", "title")

            """)
        return root
    }

    private static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}

extension CommandInvocation {
    /// This invocation reading `text` on standard input.
    fileprivate func withInput(_ text: String) -> CommandInvocation {
        var copy = self
        copy.standardInput = .bytes(Data(text.utf8))
        return copy
    }
}
