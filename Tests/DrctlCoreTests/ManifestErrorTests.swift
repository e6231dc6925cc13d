import DrctlCore
import Foundation
import Testing

/// Every way a manifest can be wrong names the file, line, column and key path (fixture line numbers in
/// `ManifestFixtures.valid`).
@Suite struct ManifestErrorTests {
    private func loadError(_ yaml: String, environment: [String: String] = [:]) throws -> (ManifestError, String) {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(yaml)
        do {
            _ = try ManifestLoader(environment: environment).load(from: path)
        } catch {
            return (error, path)
        }
        Issue.record("the manifest loaded without an error")
        return (.emptyDocument(file: path), path)
    }

    private func message(_ yaml: String, environment: [String: String] = [:]) throws -> String {
        let (error, path) = try loadError(yaml, environment: environment)
        let message = error.errorDescription ?? ""
        return message.replacingOccurrences(of: path, with: "test.yaml")
    }

    @Test func aMisspeltKeyNamesItsPositionAndTheKeyItWasMeantToBe() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "  password: { env: TEST_DB_PASSWORD }", with: "  passwrod: { env: TEST_DB_PASSWORD }")
        #expect(try message(yaml) == "test.yaml:9:3: unknown key 'passwrod' in database (did you mean 'password'?)")
    }

    @Test func anUnknownKeyWithoutNeighbourListsTheAllowedKeys() throws {
        let yaml = ManifestFixtures.valid(replacing: "objectives:", with: "colour: blue\nobjectives:")
        #expect(
            try message(yaml)
                == "test.yaml:26:1: unknown key 'colour' at the top level; allowed: environment, kube, database,"
                + " backups, releases, readiness, archive, provision, migrations, objectives, review, schedule, notifications"
        )
    }

    @Test func snakeCaseKeysAreSuggestedInCamelCase() throws {
        let yaml = ManifestFixtures.valid(replacing: "  sizeFloor: 10MB", with: "  size_floor: 10MB")
        #expect(try message(yaml) == "test.yaml:12:3: unknown key 'size_floor' in backups (did you mean 'sizeFloor'?)")
    }

    @Test func aDuplicateKeyNamesTheRepeatAndTheFirst() throws {
        let yaml = ManifestFixtures.valid(replacing: "  name: valeo_erp", with: "  name: valeo_erp\n  host: other")
        #expect(
            try message(yaml)
                == "test.yaml:9:3: duplicate key 'host' in database (first set at line 5, column 3); keep one of them")
    }

    @Test func aDuplicateKeyInAListItemNamesTheItem() throws {
        let yaml =
            ManifestFixtures.valid + """
                provision:
                  - name: one
                    command: [true]
                  - name: two
                    command: [true]
                    name: three

                """
        #expect(
            try message(yaml)
                == "test.yaml:32:5: duplicate key 'name' in provision[1] (first set at line 30, column 5);"
                + " keep one of them")
    }

    @Test func aDuplicateKeyInAFlowMappingStillHasAPosition() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "retention: { daily: 30, monthly: 12 }", with: "retention: { daily: 30, daily: 12 }")
        let (error, path) = try loadError(yaml)
        #expect(error.location == ManifestLocation(file: path, line: 13, column: 16))
        #expect(error.errorDescription?.contains("duplicate key 'daily'") == true)
    }

    /// Yams lets `1` and `"1"` through as different keys (different tags); to a program they are the same name.
    @Test func keysThatDifferOnlyInQuotingAreDuplicates() throws {
        let yaml =
            ManifestFixtures.valid + """
                provision:
                  - name: one
                    command: [true]
                    env: { "1": a, 1: b }

                """
        #expect(
            try message(yaml)
                == "test.yaml:30:20: duplicate key '1' in provision[0].env (first set at line 30, column 12);"
                + " keep one of them")
    }

    @Test func aWordWhereANumberBelongsIsAWrongType() throws {
        let yaml = ManifestFixtures.valid(replacing: "  port: 5432", with: "  port: five")
        #expect(try message(yaml) == "test.yaml:6:9: database.port must be a whole number, found 'five'")
    }

    @Test func aListWhereAStringBelongsIsAWrongType() throws {
        let yaml = ManifestFixtures.valid(replacing: "  host: db.example", with: "  host: [a, b]")
        #expect(try message(yaml) == "test.yaml:5:9: database.host must be a string, found a list")
    }

    @Test func aNumberOutOfRangeIsRefused() throws {
        let yaml = ManifestFixtures.valid(replacing: "    replicas: 3", with: "    replicas: 0")
        #expect(
            try message(yaml)
                == "test.yaml:23:15: releases.app.replicas must be a whole number from 1 to 1000, found '0'")
    }

    @Test func aMissingRequiredKeyPointsAtItsMapping() throws {
        let yaml = ManifestFixtures.valid(replacing: "  user: valeo\n", with: "")
        #expect(try message(yaml) == "test.yaml:5:3: missing required key 'user' in database")
    }

    @Test func aMissingTopLevelSectionIsNamed() throws {
        let yaml = ManifestFixtures.valid(replacing: "objectives: { rpo: 24h, rto: 4h }\n", with: "")
        #expect(try message(yaml) == "test.yaml:1:1: missing required key 'objectives' at the top level")
    }

    @Test func anEmptyRequiredValueIsRefused() throws {
        let yaml = ManifestFixtures.valid(replacing: "  host: db.example", with: "  host:")
        #expect(try message(yaml).hasPrefix("test.yaml:5:"))
        #expect(try message(yaml).contains("database.host must be given a value, found no value"))
    }

    @Test func aBadDurationSaysWhatADurationLooksLike() throws {
        let yaml = ManifestFixtures.valid(replacing: "rpo: 24h", with: "rpo: 24 hours")
        #expect(
            try message(yaml)
                == "test.yaml:26:20: objectives.rpo must be a duration like 90s, 30m, 4h, 1d or 1h30m, found '24 hours'"
        )
    }

    @Test func aBadSizeSaysWhatASizeLooksLike() throws {
        let yaml = ManifestFixtures.valid(replacing: "sizeFloor: 10MB", with: "sizeFloor: ten")
        #expect(try message(yaml).hasPrefix("test.yaml:12:14: backups.sizeFloor must be a size like 10MB or 512KiB"))
    }

    @Test func anUnsetVariableIsNamedWithItsPosition() throws {
        let yaml = ManifestFixtures.valid(replacing: "  host: db.example", with: "  host: ${DB_SERVER}")
        #expect(
            try message(yaml)
                == "test.yaml:5:9: database.host uses ${DB_SERVER} but DB_SERVER is not set;"
                + " export it or write ${DB_SERVER:-default}")
    }

    @Test func anUnclosedVariableIsMalformed() throws {
        let yaml = ManifestFixtures.valid(replacing: "  host: db.example", with: "  host: ${DB_SERVER")
        #expect(try message(yaml).hasPrefix("test.yaml:5:9: database.host: '${' without a closing '}'"))
    }

    @Test func aPasswordWrittenIntoTheManifestIsRefusedWithoutEchoingIt() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "  password: { env: TEST_DB_PASSWORD }", with: "  password: hunter2")
        let text = try message(yaml)
        #expect(text.hasPrefix("test.yaml:9:13: database.password must be { env: VARIABLE } or { file: PATH }"))
        #expect(!text.contains("hunter2"))
    }

    @Test func aShellStringCommandIsRefused() throws {
        let yaml =
            ManifestFixtures.valid + """
                provision:
                  - name: cluster
                    command: terraform apply

                """
        #expect(
            try message(yaml)
                == "test.yaml:29:14: provision[0].command must be a list of arguments like [kubectl, version]"
                + " (never one shell string), found 'terraform apply'")
    }

    @Test func aChartFromAnotherRepositoryIsRefused() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "    chart: bitnami/postgresql",
            with: "    chart: bitnami/postgresql\n    repository: { name: other, url: https://charts.example }")
        #expect(
            try message(yaml)
                == "test.yaml:17:12: releases.postgresql.chart must be a chart of repository 'other', like other/CHART,"
                + " found 'bitnami/postgresql'")
    }

    @Test func invalidYAMLIsASyntaxErrorWithAPosition() throws {
        let yaml = ManifestFixtures.valid(replacing: "  namespace: test", with: "  namespace: [test")
        let (error, _) = try loadError(yaml)
        guard case .syntax(let location, _) = error else {
            Issue.record("expected a syntax error, got \(error)")
            return
        }
        #expect(location.line >= 3)
    }

    @Test func anUnquotedVariableInAFlowMappingGetsAHint() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "  url: https://erp.example/readyz", with: "  url: { a: ${KUBE_URL}/readyz }")
        let text = try message(yaml, environment: ["KUBE_URL": "http://127.0.0.1:1"])
        #expect(text.hasPrefix("test.yaml:25:"))
        #expect(text.contains("quote values that use ${VAR}"))
    }

    @Test func aManifestThatIsNotAMappingSaysSo() throws {
        #expect(try message("- production\n") == "test.yaml:1:1: the manifest must be a mapping, found a list")
    }

    @Test func anEmptyFileIsRefused() throws {
        #expect(
            try message("# nothing yet\n")
                == "test.yaml: the manifest is empty; see manifests/production.yaml for a complete one")
    }

    @Test func aMissingFileSaysWhatToPass() throws {
        #expect(throws: ManifestError.fileNotFound(path: "manifests/nope.yaml")) {
            try ManifestLoader(environment: [:]).load(from: "manifests/nope.yaml")
        }
    }
}
