import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// Where the integration tests find the real programs: the project's `.tools/` (from `scripts/bootstrap`) first,
/// then `PATH`. A missing program fails the test with the install step; it never skips.
enum TestPrograms {
    /// The project root (this file is Tests/IntegrationTests/TestPrograms.swift).
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func kubectl() throws -> String {
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") { return "/usr/bin/kubectl" }
        return try requireOnPath("kubectl", install: "scripts/bootstrap (or apt-get install kubernetes-client)")
    }

    /// `.tools/bin/helm` (v3.18) or `.tools/bin/helm4` (v4.1).
    static func helm(_ version: HelmMajorVersion) throws -> String {
        let path = projectRoot + "/.tools/bin/" + (version == .v3 ? "helm" : "helm4")
        try #require(
            FileManager.default.isExecutableFile(atPath: path),
            "helm not found: run scripts/bootstrap (looked for \(path))")
        return path
    }

    static func alembic() throws -> String {
        let path = projectRoot + "/.tools/venv/bin/alembic"
        try #require(
            FileManager.default.isExecutableFile(atPath: path),
            "alembic not found: run scripts/bootstrap (looked for \(path))")
        return path
    }

    static func aws() throws -> String {
        let venv = projectRoot + "/.tools/venv/bin/aws"
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        return try requireOnPath("aws", install: "scripts/bootstrap")
    }

    static func az() throws -> String {
        let path = projectRoot + "/.tools/azvenv/bin/az"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        return try requireOnPath("az", install: "scripts/bootstrap (without --demo)")
    }

    @discardableResult
    static func requireOnPath(_ name: String, install: String) throws -> String {
        try #require(ProgramSearch.find(name), "\(name) not found on PATH: run \(install)")
    }
}
