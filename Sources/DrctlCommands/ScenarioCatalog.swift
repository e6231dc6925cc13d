import ArgumentParser
import DrctlCore
import Foundation

/// The scenarios a user can plan and run, and the one function that builds their runbooks, so `plan` shows
/// exactly what the scenario command runs.
enum ScenarioCatalog {
    enum Name: String, CaseIterable, ExpressibleByArgument {
        case rebuild
        case restore
        case recoverRows = "recover-rows"
        case rollbackApp = "rollback-app"
        case rollbackMigration = "rollback-migration"
        case backup
    }

    /// Builds the runbook through `ScenarioRegistry.builtIn`, the same path `drctl resume` takes.
    static func runbook(
        _ name: Name, manifest: String, stateDirectory: String, flags: [String: String],
        runner: any CommandRunning, planning: Bool = false
    ) async throws -> Runbook {
        let manifestPath =
            manifest.hasPrefix("/") ? manifest : FileManager.default.currentDirectoryPath + "/" + manifest
        var parameters = flags
        parameters["manifest"] = manifestPath
        parameters["workRoot"] = ScenarioLoader.workRoot(stateDirectory: stateDirectory)
        var registry = ScenarioRegistry.builtIn
        registry.registerManifestScenarios(loader: ScenarioLoader(runner: runner), planning: planning)
        guard registry.names.contains(name.rawValue) else {
            throw RunbookError.unknownScenario(name.rawValue, known: registry.names)
        }
        return try await registry.makeRunbook(id: name.rawValue, parameters: parameters)
    }
}
