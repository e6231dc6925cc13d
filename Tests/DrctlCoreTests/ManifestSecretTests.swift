import DrctlCore
import Foundation
import Testing

@Suite struct ManifestSecretTests {
    private func manifest(password: String, in sandbox: ManifestSandbox) throws -> Manifest {
        let yaml = ManifestFixtures.valid(replacing: "password: { env: TEST_DB_PASSWORD }", with: password)
        return try ManifestLoader(environment: [:]).load(from: sandbox.writeManifest(yaml))
    }

    @Test func readsThePasswordFromTheNamedVariable() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try manifest(password: "password: { env: TEST_DB_PASSWORD }", in: sandbox)
        let secrets = try SecretResolver(environment: ["TEST_DB_PASSWORD": "s3cret"]).resolve(for: manifest)
        #expect(secrets.databasePassword.value == "s3cret")
        #expect(secrets.values == ["s3cret"])
        #expect(secrets.warnings.isEmpty)
    }

    @Test func anUnsetVariableSaysWhatToDo() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try manifest(password: "password: { env: TEST_DB_PASSWORD }", in: sandbox)
        #expect(throws: SecretError.environmentVariableUnset(name: "TEST_DB_PASSWORD")) {
            try SecretResolver(environment: [:]).resolve(for: manifest)
        }
        let message = SecretError.environmentVariableUnset(name: "TEST_DB_PASSWORD").errorDescription ?? ""
        #expect(message.contains("set TEST_DB_PASSWORD (or DB_PASSWORD) or point database.password.file at a file"))
    }

    @Test func readsThePasswordFileWithoutItsTrailingNewline() throws {
        let sandbox = try ManifestSandbox()
        try sandbox.writeFile("secrets/db-password", "s3cret\n", permissions: 0o600)
        let manifest = try manifest(password: "password: { file: secrets/db-password }", in: sandbox)
        let secrets = try SecretResolver(environment: [:]).resolve(for: manifest)
        #expect(secrets.databasePassword.value == "s3cret")
        #expect(secrets.warnings.isEmpty)
    }

    @Test func aPasswordFileOthersCanReadGivesAWarningNotAnError() throws {
        let sandbox = try ManifestSandbox()
        try sandbox.writeFile("secrets/db-password", "s3cret", permissions: 0o644)
        let manifest = try manifest(password: "password: { file: secrets/db-password }", in: sandbox)
        let secrets = try SecretResolver(environment: [:]).resolve(for: manifest)
        #expect(secrets.databasePassword.value == "s3cret")
        #expect(secrets.warnings == [.fileReadableByOthers(path: "secrets/db-password", mode: "0644")])
        #expect(
            secrets.warnings.first?.description
                == "password file secrets/db-password can be read by others (mode 0644); run: chmod 600 secrets/db-password"
        )
    }

    @Test func aMissingPasswordFileIsAnError() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try manifest(password: "password: { file: secrets/db-password }", in: sandbox)
        #expect(throws: SecretError.fileNotFound(path: "secrets/db-password")) {
            try SecretResolver(environment: [:]).resolve(for: manifest)
        }
    }

    @Test func anEmptyPasswordIsAnError() throws {
        let sandbox = try ManifestSandbox()
        try sandbox.writeFile("secrets/db-password", "\n")
        let manifest = try manifest(password: "password: { file: secrets/db-password }", in: sandbox)
        #expect(throws: SecretError.empty(source: "file secrets/db-password")) {
            try SecretResolver(environment: [:]).resolve(for: manifest)
        }
    }

    @Test func theSecretValuePrintsRedactedEverywhere() {
        let secrets = ResolvedSecrets(databasePassword: SecretValue("s3cret"))
        var dumped = ""
        dump(secrets, to: &dumped)
        for rendering in ["\(secrets)", String(reflecting: secrets), dumped, "\(secrets.databasePassword)"] {
            #expect(!rendering.contains("s3cret"), "\(rendering)")
        }
    }

    @Test func bothPasswordSourcesAreRejectedTogether() throws {
        let sandbox = try ManifestSandbox()
        let yaml = ManifestFixtures.valid(
            replacing: "password: { env: TEST_DB_PASSWORD }",
            with: "password: { env: TEST_DB_PASSWORD, file: secrets/db-password }")
        let path = try sandbox.writeManifest(yaml)
        #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(from: path) }
    }
}
