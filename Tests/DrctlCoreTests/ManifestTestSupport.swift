import DrctlCore
import Foundation

/// A throwaway project folder with a `manifests/` folder in it, removed when the value goes away.
final class ManifestSandbox {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("manifests"), withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// Writes `manifests/<name>` and returns its absolute path.
    @discardableResult
    func writeManifest(_ yaml: String, named name: String = "test.yaml") throws -> String {
        let file = root.appendingPathComponent("manifests").appendingPathComponent(name)
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Writes a file below the project root with the given permissions and returns its absolute path.
    @discardableResult
    func writeFile(_ relativePath: String, _ contents: String, permissions: Int = 0o600) throws -> String {
        let file = root.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: file.path)
        return file.path
    }
}

enum ManifestFixtures {
    /// The repository this test file is in.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A complete, valid manifest; tests break one line of it. Line numbers matter to the error tests.
    static let valid = """
        environment: test
        kube:
          namespace: test
        database:
          host: db.example
          port: 5432
          user: valeo
          name: valeo_erp
          password: { env: TEST_DB_PASSWORD }
        backups:
          local: backups
          sizeFloor: 10MB
          retention: { daily: 30, monthly: 12 }
        releases:
          postgresql:
            name: postgresql
            chart: bitnami/postgresql
            values: values/test/postgresql.yaml
          app:
            name: valeo-erp
            chart: ./k8s/helm/valeo-erp
            values: values/test/valeo-erp.yaml
            replicas: 3
        readiness:
          url: https://erp.example/readyz
        objectives: { rpo: 24h, rto: 4h }

        """

    /// `valid` with the first line equal to `line` replaced by `replacement`.
    static func valid(replacing line: String, with replacement: String) -> String {
        guard let range = valid.range(of: line) else { fatalError("fixture has no line '\(line)'") }
        return valid.replacingCharacters(in: range, with: replacement)
    }
}
