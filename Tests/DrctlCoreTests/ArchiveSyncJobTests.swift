import DrctlCore
import Foundation
import Testing

/// The in-cluster archive sync: `archive.volumeClaim`, `shards` and `parallelism` validated at load time, the
/// stable split of the keys into shards, the Indexed Job drctl writes (claim at the destination, no password)
/// and what `drctl plan rebuild` shows for it.
@Suite struct ArchiveSyncJobTests {
    private func yaml(dataPlane: String, archive: String) -> String {
        ManifestFixtures.valid(
            replacing: "  password: { env: TEST_DB_PASSWORD }",
            with: "  password: { env: TEST_DB_PASSWORD }\n  dataPlane: \(dataPlane)"
        ).replacingOccurrences(
            of: "  retention: { daily: 30, monthly: 12 }\n",
            with: "  retention: { daily: 30, monthly: 12 }\n  s3: { bucket: b, prefix: postgresql/ }\n"
        )
        .replacingOccurrences(of: "  host: db.example", with: "  host: postgresql.test.svc.cluster.local")
            + "archive: { source: \"s3://b/archives/\", destination: /app/data/archive/\(archive) }\n"
    }

    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    @Test func inTheClusterTheClaimIsRequiredAndSaysWhatToAdd() throws {
        for placement in ["port-forward", "job"] {
            let error = #expect(throws: ManifestError.self) { try load(yaml(dataPlane: placement, archive: "")) }
            let message = error?.localizedDescription ?? ""
            #expect(message.contains("missing key 'volumeClaim' in archive"), "\(message)")
            #expect(message.contains("with database.dataPlane: \(placement)"), "\(message)")
            #expect(message.contains("add volumeClaim: <the claim's name>"), "\(message)")
            #expect(error?.failureKind == .usage)
        }
        // Local: the sync writes on this machine and needs no claim; the defaults do not change its encoding.
        let local = try load(yaml(dataPlane: "local", archive: ""))
        #expect(local.archive?.volumeClaim == nil)
        #expect(local.archive?.shards == 4 && local.archive?.parallelism == 2)
        let encoded = String(decoding: try local.canonicalEncoding(), as: UTF8.self)
        #expect(!encoded.contains("shards") && !encoded.contains("parallelism") && !encoded.contains("volumeClaim"))
    }

    @Test func shardsAndParallelismAreReadAndChecked() throws {
        let manifest = try load(
            yaml(dataPlane: "job", archive: ", volumeClaim: valeo-erp-archive, shards: 8, parallelism: 3"))
        #expect(manifest.archive?.volumeClaim == "valeo-erp-archive")
        #expect(manifest.archive?.shards == 8 && manifest.archive?.parallelism == 3)
        let decoded = try JSONDecoder().decode(Manifest.self, from: manifest.canonicalEncoding())
        #expect(decoded.archive == manifest.archive)
        // Fewer shards than the default parallelism: the parallelism follows.
        #expect(try load(yaml(dataPlane: "job", archive: ", volumeClaim: c, shards: 1")).archive?.parallelism == 1)

        let tooParallel = #expect(throws: ManifestError.self) {
            try load(yaml(dataPlane: "job", archive: ", volumeClaim: c, shards: 2, parallelism: 3"))
        }
        #expect(
            tooParallel?.localizedDescription.contains("archive.parallelism must be at most archive.shards (2)")
                == true,
            "\(String(describing: tooParallel?.localizedDescription))")
        let noShards = #expect(throws: ManifestError.self) {
            try load(yaml(dataPlane: "job", archive: ", volumeClaim: c, shards: 0"))
        }
        #expect(noShards?.localizedDescription.contains("archive.shards must be a whole number from 1") == true)
        let badClaim = #expect(throws: ManifestError.self) {
            try load(yaml(dataPlane: "job", archive: ", volumeClaim: Archive_Claim"))
        }
        #expect(badClaim?.localizedDescription.contains("archive.volumeClaim") == true)
    }

    @Test func everyKeyIsInExactlyOneShardTheSameOnEveryRun() {
        let keys = (1...400).map { "2026/\($0 % 12 + 1)/doc-\($0).txt" }
        var sizes = [0, 0, 0, 0]
        for key in keys {
            let owners = (0..<4).filter { ArchiveShard(index: $0, count: 4).contains(key) }
            #expect(owners.count == 1, "\(key) is in shards \(owners)")
            sizes[owners.first ?? 0] += 1
            #expect(owners.first == ArchiveShard.index(of: key, count: 4))
        }
        // SHA-256 spreads the keys: no shard is empty or holds most of them.
        #expect(sizes.allSatisfy { $0 > 50 && $0 < 150 }, "\(sizes)")
        // A fixed value: the split must not depend on the process (Swift's Hasher is seeded per process).
        #expect(
            ArchiveShard.index(of: "2026/01/doc-1.txt", count: 4)
                == ArchiveShard.index(of: "2026/01/doc-1.txt", count: 4))
        #expect(ArchiveShard(index: 0, count: 1).contains("anything"))
    }

    private func toolbox(_ manifest: Manifest) -> ScenarioToolbox {
        ScenarioToolbox(manifest: manifest, databasePassword: SecretValue(JobRunnerTests.password))
    }

    @Test func theJobIsIndexedMountsTheClaimAtTheDestinationAndCarriesNoPassword() throws {
        let manifest = try load(yaml(dataPlane: "job", archive: ", volumeClaim: valeo-erp-archive"))
        let sync = try ArchiveSyncJob(toolbox: toolbox(manifest), archive: try #require(manifest.archive))
        let (job, secret) = try sync.job(
            runID: "20261206-150102-ab12", shards: [0, 1, 2, 3],
            environment: ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"])
        #expect(job.name == "drctl-20261206-150102-ab12-archive-sync")
        let json = String(decoding: try job.json(namespace: "test"), as: UTF8.self)
        for fragment in [
            #""completionMode":"Indexed""#, #""completions":4"#, #""parallelism":2"#, #""backoffLimitPerIndex":0"#,
            #""persistentVolumeClaim":{"claimName":"valeo-erp-archive"}"#, #""mountPath":"/app/data/archive""#,
            #""args":["agent","archive-sync","--shards","4"]"#,
            #""envFrom":[{"secretRef":{"name":"drctl-20261206-150102-ab12-archive-sync"}}]"#,
        ] {
            #expect(json.contains(fragment), "\(fragment) not in \(json)")
        }
        // The sync never talks to the database: no password variable, no password in its Secret.
        #expect(!json.contains(#""name":"DB_PASSWORD""#) && !json.contains("AKIA") && !json.contains("s3cr3t"))
        let values = try #require(secret).data.mapValues {
            String(decoding: Data(base64Encoded: $0) ?? Data(), as: UTF8.self)
        }
        #expect(values == ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"])

        // A later attempt: only the shards the journal does not record, in a Job of their own.
        let (rest, _) = try sync.job(runID: "20261206-150102-ab12", shards: [1, 3], environment: [:])
        #expect(rest.name == "drctl-20261206-150102-ab12-archive-sync-s1-3")
        let restJSON = String(decoding: try rest.json(namespace: "test"), as: UTF8.self)
        #expect(restJSON.contains(#""args":["agent","archive-sync","--shards","4","--only","1,3"]"#), "\(restJSON)")
        #expect(restJSON.contains(#""completions":2"#) && restJSON.contains(#""parallelism":2"#))
        #expect(!restJSON.contains("envFrom"), "no credentials here: no Secret to reference")
    }

    @Test func thePlanShowsTheJobTheClaimAndTheRBACAndTheSyncWaitsForTheApp() throws {
        let manifest = try load(
            yaml(dataPlane: "port-forward", archive: ", volumeClaim: valeo-erp-archive, shards: 6, parallelism: 3"))
        let runbook = try RebuildScenario(toolbox: toolbox(manifest), workRoot: "/w").runbook()
        let step = try #require(runbook.step(ArchiveSyncJob.step))
        #expect(step.dependsOn == ["app.install"])
        let commands = step.commands
        #expect(
            commands.contains {
                $0.hasSuffix(
                    " create -f - <<< Job drctl-<run>-archive-sync: ghcr.io/valeo/drctl:\(DrctlVersion.current)"
                        + " drctl agent archive-sync --shards 6 (completionMode Indexed, completions 6, parallelism 3,"
                        + " backoffLimitPerIndex 0; claim valeo-erp-archive mounted at /app/data/archive)")
            }, "\(commands)")
        #expect(commands.contains { $0.contains("create role drctl-data-plane") && $0.contains("pods/log") })
        #expect(
            commands.contains {
                $0.contains("create role drctl-archive-claims --verb=get --resource=persistentvolumeclaims")
            }, "\(commands)")
        #expect(commands.contains { $0.contains("get persistentvolumeclaim valeo-erp-archive") }, "\(commands)")
        #expect(
            commands.contains { $0.hasPrefix("  in the Job: aws s3api list-objects-v2 --bucket b --prefix archives/") }
        )
        #expect(
            commands.contains {
                $0.contains(
                    "aws s3 sync s3://b/archives/ /app/data/archive --exclude '*' --include '<key>' --only-show-errors"
                        + " (an --include for each key, in batches)")
            }, "\(commands)")
        #expect(!commands.joined().contains(JobRunnerTests.password))
    }
}
