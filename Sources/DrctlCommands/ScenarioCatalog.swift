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

    /// Builds the runbook through `ScenarioRegistry.builtIn`, the same path `drctl resume` takes, from the
    /// scenario's options as its command parsed them (`RebuildScenario.Options` for `.rebuild`, …). `loaded`: the
    /// manifest the command read already (from `absolutePath(manifest)`), so it is not read again.
    static func runbook(
        _ name: Name, manifest: String, stateDirectory: String, options: some ScenarioOptions,
        runner: any CommandRunning, planning: Bool = false, loaded: Manifest? = nil
    ) async throws -> Runbook {
        let parameters = try RunParameters(
            manifest: absolutePath(manifest), workRoot: ScenarioLoader.workRoot(stateDirectory: stateDirectory),
            options: options)
        var registry = ScenarioRegistry.builtIn
        registry.registerManifestScenarios(
            loader: ScenarioLoader(runner: runner, loaded: loaded.map { [$0] } ?? []), planning: planning)
        guard registry.names.contains(name.rawValue) else {
            throw RunbookError.unknownScenario(name.rawValue, known: registry.names)
        }
        return try await registry.makeRunbook(id: name.rawValue, parameters: parameters)
    }

    /// A path as the journal keeps it: absolute, so `drctl resume` finds it from any folder.
    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
