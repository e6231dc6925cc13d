import DrctlCore
import DrctlTestSupport
import Foundation
import Testing
import Yams

@Suite struct BackupScheduleEmitterTests {
    static let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Golden")

    static func emitter(
        schedule: String = "0 2 * * *", environment: String = "test", extra: String = "", in sandbox: ManifestSandbox,
        s3: Bool = false
    ) throws -> BackupScheduleEmitter {
        var base = ManifestFixtures.valid.replacingOccurrences(
            of: "environment: test", with: "environment: \(environment)")
        if s3 {
            base = base.replacingOccurrences(
                of: "  retention: { daily: 30, monthly: 12 }\n",
                with: "  retention: { daily: 30, monthly: 12 }\n  s3: { bucket: valeo-backups, prefix: postgresql/ }\n")
        }
        let yaml =
            base
                + """
                schedule:
                  backups: "\(schedule)"
                  image: ghcr.io/valeo/drctl:1.4.0
                  passwordSecret: { name: valeo-db, key: password }
                \(extra)
                """
        let path = try sandbox.writeManifest(yaml)
        let manifest = try ManifestLoader(environment: [:]).load(from: path)
        return try BackupScheduleEmitter(manifest: manifest, manifestText: yaml)
    }

    /// Compares with `Golden/<name>`, the sandbox's folder written as `<root>`; DRCTL_UPDATE_GOLDEN=1 rewrites it.
    static func expectGolden(_ text: String, _ name: String, root: URL) throws {
        let normalised = text.replacingOccurrences(of: root.path, with: "<root>")
        let file = goldenFolder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["DRCTL_UPDATE_GOLDEN"] == "1" {
            try normalised.write(to: file, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(normalised == expected, "\(name) changed; if intended, run with DRCTL_UPDATE_GOLDEN=1 and review")
    }

    @Test func systemdUnitsMatchTheGoldenFiles() throws {
        let sandbox = try ManifestSandbox()
        let files = try Self.emitter(in: sandbox).emit(.systemd)
        #expect(
            files.map(\.name) == ["drctl-backup-test.service", "drctl-backup-test.timer", "drctl-backup-test.env"])
        #expect(files[2].isPrivate)
        #expect(files[2].contents.hasSuffix("\nTEST_DB_PASSWORD=\n"), "\(files[2].contents)")
        try Self.expectGolden(files[0].contents, "drctl-backup-test.service", root: sandbox.root)
        try Self.expectGolden(files[1].contents, "drctl-backup-test.timer", root: sandbox.root)
        #expect(files[1].contents.contains("OnCalendar=*-*-* 02:00:00 UTC\nPersistent=true\nRandomizedDelaySec=0\n"))
    }

    @Test func theCrontabLineRunsNightlyInUTC() throws {
        let sandbox = try ManifestSandbox()
        let emitter = try Self.emitter(in: sandbox)
        try Self.expectGolden(emitter.crontab(), "drctl-backup-test.crontab", root: sandbox.root)
        #expect(
            emitter.crontab().contains(
                "CRON_TZ=UTC\n0 2 * * * set -a && . /etc/drctl/test.env && set +a && exec /usr/local/bin/drctl backup "
                    + "nightly -f "))
        // The env file the line sources is emitted beside it, with the same name systemd's EnvironmentFile= reads.
        let files = try emitter.emit(.cron)
        #expect(files.map(\.name) == ["drctl-backup-test.crontab", "drctl-backup-test.env"])
        #expect(files[1].contents.contains("install -m 0600 -o root -g root drctl-backup-test.env /etc/drctl/test.env"))
    }

    @Test func theCronJobHasTheScheduleThePasswordReferenceAndForbid() throws {
        let sandbox = try ManifestSandbox()
        let emitter = try Self.emitter(in: sandbox)
        let yaml = try emitter.cronJobYAML()
        let documents = try Array(Yams.load_all(yaml: yaml))
        #expect(documents.count == 2)
        let configMap = try #require(documents[0] as? [String: Any])
        #expect(configMap["kind"] as? String == "ConfigMap")
        let data = try #require(configMap["data"] as? [String: String])
        #expect(data["test.yaml"] == emitter.manifestText, "the pod reads the manifest as written")
        #expect(data["test.yaml"]?.contains("passwordSecret: { name: valeo-db, key: password }") == true)

        let cronJob = try #require(documents[1] as? [String: Any])
        #expect(cronJob["kind"] as? String == "CronJob")
        let metadata = try #require(cronJob["metadata"] as? [String: Any])
        #expect(metadata["name"] as? String == "drctl-backup-test")
        #expect(metadata["namespace"] as? String == "test")
        let spec = try #require(cronJob["spec"] as? [String: Any])
        #expect(spec["schedule"] as? String == "0 2 * * *")
        #expect(spec["timeZone"] as? String == "Etc/UTC")
        #expect(spec["concurrencyPolicy"] as? String == "Forbid")
        #expect(spec["successfulJobsHistoryLimit"] as? Int == 3)
        #expect(spec["failedJobsHistoryLimit"] as? Int == 5)
        let jobSpec = try #require((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
        let podSpec = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((podSpec["containers"] as? [[String: Any]])?.first)
        #expect(container["image"] as? String == "ghcr.io/valeo/drctl:1.4.0")
        #expect(
            container["command"] as? [String]
                == ["drctl", "backup", "nightly", "-f", "/etc/drctl/manifests/test.yaml"])
        let env = try #require((container["env"] as? [[String: Any]])?.first)
        #expect(env["name"] as? String == "DB_PASSWORD")
        let reference = (env["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: String]
        #expect(reference == ["name": "valeo-db", "key": "password"])
    }

    /// The CronJob's container, from the emitted YAML.
    static func container(_ yaml: String) throws -> [String: Any] {
        let cronJob = try #require(try Array(Yams.load_all(yaml: yaml)).last as? [String: Any])
        let spec = try #require(cronJob["spec"] as? [String: Any])
        let jobSpec = try #require((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
        let podSpec = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
        return try #require((podSpec["containers"] as? [[String: Any]])?.first)
    }

    static func envFromSecrets(_ container: [String: Any]) -> [String] {
        ((container["envFrom"] as? [[String: Any]]) ?? []).compactMap {
            ($0["secretRef"] as? [String: Any])?["name"] as? String
        }
    }

    @Test func theOffsiteAndNotificationVariablesComeFromTheEnvironmentSecret() throws {
        let sandbox = try ManifestSandbox()
        let extra = """
            notifications:
              - type: pagerduty
                routingKey: { env: PAGERDUTY_ROUTING_KEY }
              - type: slack
                url: { env: SLACK_WEBHOOK_URL }
              - type: webhook
                url: https://hooks.example/drctl
                hmacSecret: { env: DRCTL_WEBHOOK_HMAC_KEY }

            """
        let emitter = try Self.emitter(extra: extra, in: sandbox, s3: true)
        #expect(
            emitter.environmentSecretVariables == [
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "PAGERDUTY_ROUTING_KEY",
                "SLACK_WEBHOOK_URL", "DRCTL_WEBHOOK_HMAC_KEY",
            ])
        // On a host (systemd, cron) the manifest's password variable is needed as well.
        #expect(emitter.hostVariables.first == "TEST_DB_PASSWORD")
        #expect(emitter.hostVariables.dropFirst() == emitter.environmentSecretVariables[...])
        #expect(emitter.crontab().contains("the run reads TEST_DB_PASSWORD, AWS_ACCESS_KEY_ID,"))
        #expect(emitter.systemdService().contains("(keep the file mode 0600): TEST_DB_PASSWORD, AWS_ACCESS_KEY_ID,"))
        let yaml = try emitter.cronJobYAML()
        let container = try Self.container(yaml)
        #expect(Self.envFromSecrets(container) == ["drctl-backup-test-env"])
        let secretRef = try #require((container["envFrom"] as? [[String: Any]])?.first?["secretRef"] as? [String: Any])
        #expect(
            secretRef["optional"] == nil, "a missing Secret must stop the pod, not give a night without credentials")
        // The password stays its own secretKeyRef.
        #expect((container["env"] as? [[String: Any]])?.first?["name"] as? String == "DB_PASSWORD")
        #expect(
            yaml.contains("# The pod's environment comes from Secret drctl-backup-test-env (envFrom), which must hold:")
        )
        #expect(
            yaml.contains(
                "kubectl -n test create secret generic drctl-backup-test-env --from-literal=AWS_ACCESS_KEY_ID=…"))
    }

    @Test func theManifestNamesTheEnvironmentSecret() throws {
        let sandbox = try ManifestSandbox()
        let named = try Self.emitter(extra: "  environmentSecret: valeo-backup-env\n", in: sandbox, s3: true)
        #expect(named.environmentSecretName == "valeo-backup-env")
        #expect(Self.envFromSecrets(try Self.container(named.cronJobYAML())) == ["valeo-backup-env"])
        // Named without off-site stores or notifications: still mounted, the operator asked for it.
        let local = try Self.emitter(extra: "  environmentSecret: valeo-backup-env\n", in: sandbox)
        #expect(Self.envFromSecrets(try Self.container(local.cronJobYAML())) == ["valeo-backup-env"])
    }

    @Test func aLocalOnlyBackupWithoutNotificationsNeedsNoEnvironmentSecret() throws {
        let sandbox = try ManifestSandbox()
        let emitter = try Self.emitter(in: sandbox)
        #expect(emitter.environmentSecretVariables.isEmpty)
        #expect(try Self.container(emitter.cronJobYAML())["envFrom"] == nil)
    }

    @Test func anEnvironmentSecretThatIsNoKubernetesNameIsRefused() throws {
        let sandbox = try ManifestSandbox()
        #expect {
            _ = try Self.emitter(extra: "  environmentSecret: Backup_Env\n", in: sandbox)
        } throws: { error in
            error.localizedDescription.contains("schedule.environmentSecret")
        }
    }

    @Test func aVolumeClaimIsMountedAtTheBackupFolder() throws {
        let sandbox = try ManifestSandbox()
        let yaml = try Self.emitter(extra: "  volumeClaim: drctl-backups\n", in: sandbox).cronJobYAML()
        let mounts = try #require(try Self.container(yaml)["volumeMounts"] as? [[String: Any]])
        #expect(
            mounts.map { "\($0["name"] ?? ""):\($0["mountPath"] ?? "")" } == [
                "manifest:/etc/drctl/manifests", "backups:" + sandbox.root.appendingPathComponent("backups").path,
            ])
        let cronJob = try #require(try Array(Yams.load_all(yaml: yaml)).last as? [String: Any])
        let jobSpec = try #require(
            ((cronJob["spec"] as? [String: Any])?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
        let podSpec = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let volumes = try #require(podSpec["volumes"] as? [[String: Any]])
        #expect((volumes.last?["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String == "drctl-backups")
    }

    @Test(
        arguments: [
            ("0 2 * * *", "*-*-* 02:00:00 UTC"),
            ("30 1 * * 1-5", "Mon,Tue,Wed,Thu,Fri *-*-* 01:30:00 UTC"),
            ("*/15 * * * *", "*-*-* *:00,15,30,45:00 UTC"),
            ("0 3 1 */3 0", nil),
            ("0 4 1 1,7 *", "*-01,07-01 04:00:00 UTC"),
            ("0 0 * * 7", "Sun *-*-* 00:00:00 UTC"),
        ] as [(String, String?)])
    func cronBecomesOnCalendar(cron: String, expected: String?) throws {
        let schedule = try CronSchedule.parse(cron).get()
        if let expected {
            #expect(try SystemdCalendar.onCalendar(for: schedule) == expected)
        } else {
            #expect(throws: ScheduleError.self) { try SystemdCalendar.onCalendar(for: schedule) }
        }
    }

    @Test func noScheduleSectionSaysWhatToAdd() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try ManifestLoader(environment: [:]).load(from: sandbox.writeManifest(ManifestFixtures.valid))
        #expect {
            try BackupScheduleEmitter(manifest: manifest, manifestText: "")
        } throws: { error in
            (error as? ScheduleError)?.localizedDescription.contains("has no `schedule` section") ?? false
        }
    }

    @Test func theCronJobStatusGivesTheLastSuccess() async throws {
        let sandbox = try ManifestSandbox()
        let manifest = try Self.emitter(in: sandbox).manifest
        let json = """
            {"kind":"CronJob","spec":{"schedule":"0 2 * * *","suspend":false},
             "status":{"lastScheduleTime":"2026-11-25T02:00:00Z","lastSuccessfulTime":"2026-11-25T02:00:41Z"}}
            """
        let runner = RecordingCommandRunner { invocation in
            CommandResult(invocation: invocation, status: .exited(0), standardOutput: Data(json.utf8))
        }
        let state = try await BackupScheduleStatus(runner: runner).cronJob(
            manifest: manifest, kubectl: Kubectl(namespace: "test"))
        #expect(state.exists && state.active)
        #expect(state.lastSucceeded == ISO8601DateFormatter().date(from: "2026-11-25T02:00:41Z"))
        #expect(state.text == "cronjob test/drctl-backup-test: active, last succeeded 2026-11-25T02:00:41Z")
        #expect(
            runner.invocations.map(\.arguments) == [
                ["--namespace", "test", "get", "cronjob", "drctl-backup-test", "-o", "json"]
            ])
    }

    @Test func theSystemdStatusReadsSystemctlShow() {
        let state = BackupScheduleStatus.parseSystemd(
            timer: "LoadState=loaded\nActiveState=active\n",
            service: "Result=success\nExecMainStatus=0\nExecMainExitTimestamp=Wed 2026-11-25 02:00:41 UTC\n",
            source: "systemd drctl-backup-test.timer")
        #expect(state.exists && state.active)
        #expect(state.lastSucceeded == ISO8601DateFormatter().date(from: "2026-11-25T02:00:41Z"))
        let missing = BackupScheduleStatus.parseSystemd(
            timer: "LoadState=not-found\nActiveState=inactive\n", service: "",
            source: "systemd drctl-backup-test.timer")
        #expect(!missing.exists)
    }

    static func statusCheck(stdout: String, stderr: String = "", exit: Int32 = 0) async throws -> StatusCheck? {
        let sandbox = try ManifestSandbox()
        let manifest = try emitter(in: sandbox).manifest
        let runner = RecordingCommandRunner { invocation in
            CommandResult(
                invocation: invocation, status: .exited(exit), standardOutput: Data(stdout.utf8),
                standardErrorTail: stderr)
        }
        return await BackupScheduleStatus(runner: runner).statusCheck(
            manifest: manifest, kubectl: Kubectl(namespace: "test"), systemctl: nil)
    }

    @Test func theStatusCheckPassesForAnActiveScheduleWhoseLastRunSucceeded() async throws {
        let check = try #require(
            try await Self.statusCheck(
                stdout: """
                    {"spec":{"suspend":false},"status":{"lastScheduleTime":"2026-11-25T02:00:00Z",
                     "lastSuccessfulTime":"2026-11-25T02:00:41Z"}}
                    """))
        #expect(check.id == "backups.schedule")
        #expect(check.result == .pass)
        #expect(
            check.evidence
                == "cronjob test/drctl-backup-test: active, last succeeded 2026-11-25T02:00:41Z (schedule \"0 2 * * *\" UTC)"
        )
    }

    @Test func theStatusCheckFailsWhenTheLastRunFailedOrTheCronJobIsMissing() async throws {
        let failed = try #require(
            try await Self.statusCheck(
                stdout: """
                    {"spec":{},"status":{"lastScheduleTime":"2026-11-25T02:00:00Z",
                     "lastSuccessfulTime":"2026-11-24T02:00:41Z"}}
                    """))
        #expect(failed.result == .fail)
        #expect(failed.evidence.contains("the run scheduled at 2026-11-25T02:00:00Z has not succeeded"))
        let missing = try #require(
            try await Self.statusCheck(
                stdout: "", stderr: "Error from server (NotFound): cronjobs.batch \"drctl-backup-test\" not found",
                exit: 1))
        #expect(missing.result == .fail)
        #expect(missing.evidence.hasPrefix("cronjob test/drctl-backup-test: not found"))
        #expect(missing.remedy?.contains("--emit cronjob --apply") == true)
    }
}
