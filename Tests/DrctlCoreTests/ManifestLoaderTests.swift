import DrctlCore
import Foundation
import Testing

@Suite struct ManifestLoaderTests {
    let root = ManifestFixtures.repositoryRoot

    @Test func loadsTheShippedProductionManifestAsTheRunbookDescribesIt() throws {
        let manifest = try ManifestLoader(environment: [:])
            .load(from: root.appendingPathComponent("manifests/production.yaml").path)

        #expect(manifest.environment == "production")
        #expect(manifest.kube.namespace == "production")
        #expect(manifest.kube.context == "production")
        #expect(manifest.database.host == "postgresql.production.svc.cluster.local")
        #expect(manifest.database.port == 5432)
        #expect(manifest.database.user == "valeo")
        #expect(manifest.database.name == "valeo_erp")
        #expect(manifest.database.password == .env("DB_PASSWORD"))
        #expect(manifest.database.smokeQuery == "SELECT COUNT(*) FROM documents_header")
        #expect(manifest.backups.local.absolute == "/backups/postgresql")
        #expect(manifest.backups.sizeFloor == ByteSize(bytes: 10_000_000))
        #expect(manifest.backups.retention == Manifest.Retention(daily: 30, monthly: 12))
        #expect(manifest.backups.s3?.url == "s3://valeo-backups/postgresql/")
        #expect(manifest.releases.postgresql.chart == .reference("bitnami/postgresql"))
        #expect(
            manifest.releases.postgresql.repository
                == Manifest.ChartRepository(name: "bitnami", url: "https://charts.bitnami.com/bitnami"))
        #expect(manifest.releases.app.release.name == "valeo-erp")
        #expect(manifest.releases.app.release.chart.description == "./k8s/helm/valeo-erp")
        #expect(manifest.releases.app.release.chart.argument == root.appendingPathComponent("k8s/helm/valeo-erp").path)
        #expect(manifest.releases.app.deployment == "valeo-erp")
        #expect(manifest.releases.app.replicas == 3)
        #expect(manifest.readiness.url == "https://erp.valeo.example.com/readyz")
        #expect(manifest.archive?.source == "s3://valeo-backups/archives/")
        #expect(manifest.archive?.destination.written == "/app/data/archive/")
        #expect(manifest.provision.first?.check == ["kubectl", "--context", "production", "version"])
        #expect(manifest.provision.first?.environment == ["TF_IN_AUTOMATION": "1"])
        #expect(manifest.objectives.rpo == .seconds(24 * 3600))
        #expect(manifest.objectives.rto == .seconds(4 * 3600))
        #expect(manifest.source.projectRoot == root.standardizedFileURL.path)
    }

    @Test func valuesFilesExistAndHoldNoPasswords() throws {
        for environment in ["production", "staging"] {
            let manifest = try ManifestLoader(environment: [:])
                .load(from: root.appendingPathComponent("manifests/\(environment).yaml").path)
            let files = manifest.releases.postgresql.values + manifest.releases.app.release.values
            #expect(files.count == 2)
            for file in files {
                #expect(file.written.hasPrefix("values/\(environment)/"))
                let text = try String(contentsOfFile: file.absolute, encoding: .utf8)
                let settings = text.split(separator: "\n").filter {
                    !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#")
                }
                #expect(!settings.contains { $0.lowercased().contains("password") || $0.contains("DATABASE_URL") })
            }
        }
    }

    @Test func loadsTheShippedStagingManifestWithItsOwnNamespaceAndEndpoint() throws {
        let manifest = try ManifestLoader(environment: [:])
            .load(from: root.appendingPathComponent("manifests/staging.yaml").path)
        #expect(manifest.environment == "staging")
        #expect(manifest.kube.namespace == "staging")
        #expect(manifest.readiness.url == "https://erp-staging.valeo.example.com/readyz")
        #expect(manifest.releases.app.release.values.map(\.written) == ["values/staging/valeo-erp.yaml"])
    }

    @Test func resolvesRelativePathsAgainstTheParentOfTheManifestFolder() throws {
        let sandbox = try ManifestSandbox()
        try sandbox.writeFile("charts/app/Chart.yaml", "name: app\n")
        let path = try sandbox.writeManifest(
            ManifestFixtures.valid(replacing: "chart: ./k8s/helm/valeo-erp", with: "chart: charts/app"))
        let manifest = try ManifestLoader(environment: [:]).load(from: path)
        let root = sandbox.root.standardizedFileURL.path

        #expect(manifest.backups.local == ManifestPath(written: "backups", absolute: root + "/backups"))
        #expect(manifest.releases.postgresql.values.first?.absolute == root + "/values/test/postgresql.yaml")
        #expect(
            manifest.releases.app.release.chart
                == .local(ManifestPath(written: "charts/app", absolute: root + "/charts/app")))
        #expect(manifest.releases.app.deployment == "valeo-erp", "deployment defaults to the release name")
    }

    @Test func acceptsSeveralValuesFilesInOrder() throws {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(
            ManifestFixtures.valid(
                replacing: "    values: values/test/postgresql.yaml",
                with: "    values: [values/common.yaml, values/test/postgresql.yaml]"))
        let manifest = try ManifestLoader(environment: [:]).load(from: path)
        #expect(
            manifest.releases.postgresql.values.map(\.written) == ["values/common.yaml", "values/test/postgresql.yaml"])
    }

    @Test func emptyVariablesTakeTheDefaultAndUnusedDollarsStay() throws {
        let sandbox = try ManifestSandbox()
        let yaml = ManifestFixtures.valid
            .replacingOccurrences(of: "host: db.example", with: "host: ${PGHOST:-127.0.0.1}")
            .replacingOccurrences(of: "name: valeo_erp", with: "name: valeo$erp")
        let manifest = try ManifestLoader(environment: ["PGHOST": ""]).load(from: sandbox.writeManifest(yaml))
        #expect(manifest.database.host == "127.0.0.1")
        #expect(manifest.database.name == "valeo$erp")
    }

    @Test func interpolatesVariablesWithDefaults() throws {
        let sandbox = try ManifestSandbox()
        let yaml = ManifestFixtures.valid
            .replacingOccurrences(of: "host: db.example", with: "host: ${PGHOST:-127.0.0.1}")
            .replacingOccurrences(of: "port: 5432", with: "port: ${PGPORT}")
            .replacingOccurrences(of: "local: backups", with: "local: ${DRCTL_STACK_DIR}/backups")
            .replacingOccurrences(
                of: "https://erp.example/readyz", with: "\"${KUBE_URL}/_standin/apps/test/valeo-erp/readyz\"")
        let path = try sandbox.writeManifest(yaml)
        let manifest = try ManifestLoader(environment: [
            "PGPORT": "55432", "DRCTL_STACK_DIR": "/tmp/stack", "KUBE_URL": "http://127.0.0.1:6443",
        ]).load(from: path)

        #expect(manifest.database.host == "127.0.0.1")
        #expect(manifest.database.port == 55432)
        #expect(manifest.backups.local.absolute == "/tmp/stack/backups")
        #expect(manifest.readiness.url == "http://127.0.0.1:6443/_standin/apps/test/valeo-erp/readyz")
    }

    @Test func runbookVariablesOverrideTheManifest() throws {
        let manifest = try ManifestLoader(environment: [
            "DB_HOST": "127.0.0.1", "DB_PORT": "55432", "DB_USER": "restorer", "DB_NAME": "valeo_erp_temp",
            "DB_PASSWORD": "s3cret",
        ]).load(from: root.appendingPathComponent("manifests/production.yaml").path)

        #expect(manifest.database.host == "127.0.0.1")
        #expect(manifest.database.port == 55432)
        #expect(manifest.database.user == "restorer")
        #expect(manifest.database.name == "valeo_erp_temp")
        #expect(manifest.database.password == .env("DB_PASSWORD"))
        #expect(manifest.environmentOverrides["database.host"] == "DB_HOST")
    }

    @Test func setDatabasePasswordWinsOverAPasswordFile() throws {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(
            ManifestFixtures.valid(
                replacing: "password: { env: TEST_DB_PASSWORD }", with: "password: { file: secrets/db-password }"))

        let withoutVariable = try ManifestLoader(environment: [:]).load(from: path)
        #expect(withoutVariable.database.password.description == "file secrets/db-password")

        let withVariable = try ManifestLoader(environment: ["DB_PASSWORD": "s3cret"]).load(from: path)
        #expect(withVariable.database.password == .env("DB_PASSWORD"))
    }

    @Test func aBadPortOverrideIsAnError() throws {
        #expect(
            throws: ManifestError.invalidEnvironmentOverride(
                variable: "DB_PORT", value: "abc", expected: "a port from 1 to 65535")
        ) {
            try ManifestLoader(environment: ["DB_PORT": "abc"])
                .load(from: root.appendingPathComponent("manifests/production.yaml").path)
        }
    }

    @Test func thePasswordNeverAppearsInTheEncodedManifest() throws {
        let sandbox = try ManifestSandbox()
        try sandbox.writeFile("secrets/db-password", "file-s3cret\n")
        let environment = ["DB_PASSWORD": "env-s3cret"]
        for yaml in [
            ManifestFixtures.valid,
            ManifestFixtures.valid(
                replacing: "password: { env: TEST_DB_PASSWORD }", with: "password: { file: secrets/db-password }"),
        ] {
            let manifest = try ManifestLoader(environment: environment).load(from: sandbox.writeManifest(yaml))
            let secrets = try SecretResolver(environment: environment).resolve(for: manifest)
            let encoded = String(decoding: try manifest.canonicalEncoding(), as: UTF8.self)
            #expect(secrets.databasePassword.value == "env-s3cret")
            #expect(!encoded.contains("s3cret"))
            #expect(!"\(manifest)".contains("s3cret"))
            #expect(!"\(secrets)".contains("s3cret"))
        }
    }

    @Test func theEncodedManifestRoundTripsForFingerprints() throws {
        let manifest = try ManifestLoader(environment: [:])
            .load(from: root.appendingPathComponent("manifests/production.yaml").path)
        let decoded = try JSONDecoder().decode(Manifest.self, from: manifest.canonicalEncoding())
        // `schedule` and `notifications` are deliberately not encoded (see Manifest.CodingKeys).
        var encodedPart = manifest
        encodedPart.schedule = nil
        encodedPart.notifications = []
        #expect(decoded == encodedPart)
        #expect(try decoded.canonicalEncoding() == manifest.canonicalEncoding())

        var changed = manifest
        changed.releases.app.replicas = 2
        #expect(try changed.canonicalEncoding() != manifest.canonicalEncoding())
    }
}
