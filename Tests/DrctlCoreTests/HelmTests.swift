import DrctlCore
import Foundation
import Testing

@Suite struct HelmTests {
    let target = ["--kubeconfig", "/k", "--kube-context", "production", "--namespace", "production"]

    func helm(_ version: HelmMajorVersion) -> Helm {
        Helm(kubeContext: "production", namespace: "production", kubeconfig: "/k", majorVersion: version)
    }

    @Test func parsesMajorVersion() throws {
        #expect(try HelmMajorVersion.parse(versionOutput: "v3.18.0") == .v3)
        #expect(try HelmMajorVersion.parse(versionOutput: "v4.1.4\n") == .v4)
        #expect(throws: HelmError.self) { try HelmMajorVersion.parse(versionOutput: "v2.17.0") }
        #expect(throws: HelmError.self) { try HelmMajorVersion.parse(versionOutput: "") }
    }

    @Test func versionAndRepos() {
        #expect(Helm().version().arguments == ["version", "--template", "{{.Version}}"])
        #expect(
            helm(.v3).repoAdd(name: "bitnami", url: "https://charts.bitnami.com/bitnami").arguments
                == ["repo", "add", "bitnami", "https://charts.bitnami.com/bitnami", "--force-update"])
        #expect(helm(.v4).repoUpdate().arguments == ["repo", "update"])
        #expect(helm(.v4).repoUpdate(["bitnami"]).arguments == ["repo", "update", "bitnami"])
    }

    @Test func upgradeInstallMinimal() {
        #expect(
            helm(.v3).upgradeInstall(release: "valeo-erp", chart: "./k8s/helm/valeo-erp").arguments
                == ["upgrade", "--install", "valeo-erp", "./k8s/helm/valeo-erp"] + target)
    }

    @Test func upgradeInstallHelm3() {
        let options = HelmUpgradeOptions(
            valuesFiles: ["values/production/postgresql.yaml", "/tmp/secret-values.yaml"], chartVersion: "15.5.0",
            createNamespace: true, wait: true, timeout: .seconds(600), atomic: true, disableOpenAPIValidation: true)
        #expect(
            helm(.v3).upgradeInstall(release: "postgresql", chart: "bitnami/postgresql", options: options).arguments
                == [
                    "upgrade", "--install", "postgresql", "bitnami/postgresql",
                    "--values", "values/production/postgresql.yaml", "--values", "/tmp/secret-values.yaml",
                    "--version", "15.5.0", "--create-namespace", "--wait", "--timeout", "600s", "--atomic",
                    "--disable-openapi-validation",
                ] + target)
    }

    @Test func upgradeInstallHelm4RenamesAtomicAndWait() {
        let options = HelmUpgradeOptions(wait: true, timeout: .seconds(600), atomic: true)
        #expect(
            helm(.v4).upgradeInstall(release: "postgresql", chart: "bitnami/postgresql", options: options).arguments
                == [
                    "upgrade", "--install", "postgresql", "bitnami/postgresql", "--wait=watcher", "--timeout", "600s",
                    "--rollback-on-failure",
                ] + target)
    }

    @Test("a rebuild's app release staged before its database exists: --no-hooks, the same in helm 3 and 4")
    func upgradeInstallWithoutHooks() {
        for version in [HelmMajorVersion.v3, .v4] {
            let options = HelmUpgradeOptions(noHooks: true)
            #expect(
                helm(version).upgradeInstall(release: "valeo-erp", chart: "./chart", options: options).arguments
                    == ["upgrade", "--install", "valeo-erp", "./chart", "--no-hooks"] + target)
        }
    }

    @Test("a game day's bad release: --reuse-values and one --set per value, in order, before the target")
    func upgradeInstallReusesValuesAndSets() {
        let options = HelmUpgradeOptions(reuseValues: true, set: ["image.tag=never-ready", "a=b,c"])
        #expect(
            helm(.v3).upgradeInstall(release: "valeo-erp", chart: "./chart", options: options).arguments
                == [
                    "upgrade", "--install", "valeo-erp", "./chart", "--reuse-values", "--set", "image.tag=never-ready",
                    "--set", "a=b,c",
                ] + target)
    }

    @Test func upgradeInstallRecordsADescription() {
        let options = HelmUpgradeOptions(description: "migration-revision=0004")
        #expect(
            helm(.v4).upgradeInstall(release: "valeo-erp", chart: "./chart", options: options).arguments
                == ["upgrade", "--install", "valeo-erp", "./chart", "--description", "migration-revision=0004"] + target
        )
    }

    @Test func historyStatusListUninstall() {
        #expect(
            helm(.v3).history(release: "valeo-erp").arguments == ["history", "valeo-erp", "--output", "json"] + target)
        #expect(
            helm(.v3).history(release: "valeo-erp", max: 20).arguments
                == ["history", "valeo-erp", "--output", "json", "--max", "20"] + target)
        #expect(
            helm(.v4).status(release: "valeo-erp").arguments == ["status", "valeo-erp", "--output", "json"] + target)
        #expect(helm(.v3).list().arguments == ["list", "--output", "json"] + target)
        #expect(helm(.v3).list(all: true).arguments == ["list", "--output", "json", "--all"] + target)
        #expect(helm(.v4).list(all: true).arguments == ["list", "--output", "json"] + target)
        #expect(helm(.v3).uninstall(release: "x").arguments == ["uninstall", "x"] + target)
        #expect(
            helm(.v4).uninstall(release: "x", wait: true, timeout: .seconds(60)).arguments
                == ["uninstall", "x", "--wait=watcher", "--timeout", "60s"] + target)
    }

    @Test func rollback() {
        #expect(helm(.v3).rollback(release: "valeo-erp").arguments == ["rollback", "valeo-erp"] + target)
        #expect(
            helm(.v3).rollback(release: "valeo-erp", to: 4, wait: true, timeout: .seconds(300), cleanupOnFail: true)
                .arguments == ["rollback", "valeo-erp", "4", "--wait", "--timeout", "300s", "--cleanup-on-fail"]
                + target)
        #expect(
            helm(.v4).rollback(release: "valeo-erp", to: 4, wait: true).arguments
                == ["rollback", "valeo-erp", "4", "--wait=watcher"] + target)
    }

    @Test func parsesHistory() throws {
        let json = """
            [{"revision":1,"updated":"2026-11-20T09:15:02.123456789+01:00","status":"superseded","chart":"valeo-erp-1.4.1","app_version":"1.4.1","description":"Install complete"},
             {"revision":3,"updated":"2026-11-25T14:20:11.41138Z","status":"failed","chart":"valeo-erp-1.5.0","app_version":"1.5.0","description":"Upgrade \\"valeo-erp\\" failed: context deadline exceeded"},
             {"revision":2,"updated":"2026-11-22T10:00:00Z","status":"deployed","chart":"valeo-erp-1.4.2","app_version":"","description":"Upgrade complete"}]
            """
        let history = try Helm.parseHistory(Data(json.utf8))
        #expect(history.map(\.revision) == [1, 2, 3])
        #expect(history.map(\.status) == ["superseded", "deployed", "failed"])
        #expect(history[0].updated == date("2026-11-20T08:15:02Z")?.addingTimeInterval(0.123456789))
        #expect(history[2].description.contains("context deadline exceeded"))
        #expect(history[0].appVersion == "1.4.1")
    }

    @Test func parsesStatus() throws {
        let json = """
            {"name":"valeo-erp","info":{"first_deployed":"2026-11-20T09:15:02.1+01:00","last_deployed":"2026-11-22T10:00:00Z",
             "deleted":"","description":"Upgrade complete","status":"deployed","notes":"…"},
             "chart":{"metadata":{"name":"valeo-erp","version":"1.4.2","appVersion":"1.4.2","apiVersion":"v2"}},
             "config":{},"manifest":"---","version":2,"namespace":"production"}
            """
        let status = try Helm.parseStatus(Data(json.utf8))
        #expect(status.name == "valeo-erp")
        #expect(status.namespace == "production")
        #expect(status.revision == 2)
        #expect(status.status == "deployed")
        #expect(status.chartVersion == "1.4.2")
        #expect(status.lastDeployed == date("2026-11-22T10:00:00Z"))
    }

    // `helm list -o json` prints the revision as a string and the time in Go's time.String() form.
    @Test func parsesList() throws {
        let json = """
            [{"name":"postgresql","namespace":"production","revision":"7","updated":"2026-11-22 10:00:00.5 +0100 CET","status":"deployed","chart":"postgresql-15.5.0","app_version":"16.3.0"}]
            """
        let releases = try Helm.parseList(Data(json.utf8))
        #expect(releases.count == 1)
        #expect(releases[0].revision == 7)
        #expect(releases[0].updated == date("2026-11-22T09:00:00Z")?.addingTimeInterval(0.5))
        #expect(try Helm.parseList(Data("[]".utf8)).isEmpty)
    }

    @Test func unreadableHistoryNamesTheTool() {
        let error = #expect(throws: ToolOutputError.self) {
            try Helm.parseHistory(Data("Error: release: not found".utf8))
        }
        #expect(error?.localizedDescription.contains("helm") == true)
    }

    // Captured from helm v3.18.0 and v4.1.4 (install, upgrade, rollback to 1) against the kube stand-in.
    static let capturedHistory3 =
        #"[{"revision":1,"updated":"2026-11-25T14:41:38.050932568Z","status":"superseded","chart":"sample-app-0.1.0","app_version":"1.0.0","description":"Install complete"},{"revision":2,"updated":"2026-11-25T14:41:41.143184645Z","status":"superseded","chart":"sample-app-0.1.0","app_version":"1.0.0","description":"Upgrade complete"},{"revision":3,"updated":"2026-11-25T14:41:42.321197287Z","status":"deployed","chart":"sample-app-0.1.0","app_version":"1.0.0","description":"Rollback to 1"}]"#
    static let capturedHistory4 =
        #"[{"revision":1,"updated":"2026-11-25T14:41:44.004795711Z","status":"superseded","chart":"sample-app-0.1.0","app_version":"1.0.0","description":"Install complete"},{"revision":2,"updated":"2026-11-25T14:41:45.26638739Z","status":"superseded","chart":"sample-app-0.1.0","app_version":"1.0.0","description":"Upgrade complete"},{"revision":3,"updated":"2026-11-25T14:41:46.433004647Z","status":"deployed","chart":"sample-app-0.1.0","app_version":"1.0.0","description":"Rollback to 1"}]"#
    static let capturedStatus3 =
        #"{"name": "app3", "info": {"first_deployed": "2026-11-25T14:41:38.050932568Z", "last_deployed": "2026-11-25T14:41:42.321197287Z", "deleted": "", "description": "Rollback to 1", "status": "deployed"}, "version": 3, "namespace": "cap"}"#
    static let capturedStatus4 =
        #"{"name": "app4", "info": {"first_deployed": "2026-11-25T14:41:44.004795711Z", "last_deployed": "2026-11-25T14:41:46.433004647Z", "description": "Rollback to 1", "status": "deployed", "resources": {"v1/ConfigMap": [{"apiVersion": "v1", "data": {"settings.json": "{\"greeting\":\"hello\"}"}, "kind": "ConfigMap", "metadata": {"annotations": {"meta.helm.sh/release-name": "app4", "meta.helm.sh/release-namespace": "cap"}, "creationTimestamp": "2026-11-25T14:41:44Z", "labels": {"app.kubernetes.io/instance": "app4", "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/name": "sample-app", "app.kubernetes.io/version": "1.27", "helm.sh/chart": "sample-app-0.1.0"}, "name": "app4-config", "namespace": "cap", "resourceVersion": "1035", "uid": "b7a27972-2fce-45dc-be8b-f73c0c736e1e"}}]}}, "version": 3, "namespace": "cap", "apply_method": "ssa"}"#
    static let capturedList4 =
        #"[{"name":"app3","namespace":"cap","revision":"3","updated":"2026-11-25 14:41:42.321197287 +0000 UTC","status":"deployed","chart":"sample-app-0.1.0","app_version":"1.0.0"},{"name":"app4","namespace":"cap","revision":"3","updated":"2026-11-25 14:41:46.433004647 +0000 UTC","status":"deployed","chart":"sample-app-0.1.0","app_version":"1.0.0"}]"#

    @Test(arguments: [capturedHistory3, capturedHistory4])
    func parsesCapturedHistory(_ json: String) throws {
        let history = try Helm.parseHistory(Data(json.utf8))
        #expect(history.map(\.revision) == [1, 2, 3])
        #expect(history.map(\.status) == ["superseded", "superseded", "deployed"])
        #expect(history.last?.description == "Rollback to 1")
        #expect(history.allSatisfy { $0.updated != nil && $0.chart == "sample-app-0.1.0" && $0.appVersion == "1.0.0" })
        #expect(history[0].updated.map { $0 < (history[2].updated ?? $0) } == true)
    }

    @Test(arguments: [capturedStatus3, capturedStatus4])
    func parsesCapturedStatus(_ json: String) throws {
        let status = try Helm.parseStatus(Data(json.utf8))
        #expect(status.revision == 3)
        #expect(status.status == "deployed")
        #expect(status.namespace == "cap")
        #expect(status.description == "Rollback to 1")
        #expect(status.lastDeployed != nil)
    }

    @Test func parsesCapturedList() throws {
        let releases = try Helm.parseList(Data(Self.capturedList4.utf8))
        #expect(releases.map(\.name) == ["app3", "app4"])
        #expect(releases.map(\.revision) == [3, 3])
        #expect(releases.allSatisfy { $0.updated != nil })
    }

    @Test func releaseNotFound() {
        let invocation = Helm().status(release: "nope")
        #expect(
            Helm.isReleaseNotFound(
                CommandResult(
                    invocation: invocation, status: .exited(1), standardErrorTail: "Error: release: not found")))
        #expect(
            !Helm.isReleaseNotFound(
                CommandResult(
                    invocation: invocation, status: .exited(1),
                    standardErrorTail: "Error: Kubernetes cluster unreachable")))
    }

    private func date(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
