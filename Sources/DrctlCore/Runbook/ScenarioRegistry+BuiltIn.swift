import Foundation

extension ScenarioRegistry {
    /// Every scenario drctl can resume. Scenario authors: register yours here.
    public static var builtIn: ScenarioRegistry {
        var registry = ScenarioRegistry()
        registry.register(SelfTestScenario.runbookID) { try SelfTestScenario(parameters: $0).runbook() }
        registry.registerManifestScenarios(loader: ScenarioLoader(runner: CommandRunner()))
        return registry
    }
}
