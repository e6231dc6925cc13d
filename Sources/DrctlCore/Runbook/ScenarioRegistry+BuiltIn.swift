import Foundation

extension ScenarioRegistry {
    /// Every scenario drctl can resume. Scenario authors: register yours here.
    public static var builtIn: ScenarioRegistry {
        var registry = ScenarioRegistry()
        registry.register(SelfTestScenario.runbookID) {
            try SelfTestScenario(options: try $0.options(SelfTestScenario.Options.self)).runbook()
        }
        registry.registerManifestScenarios(loader: ScenarioLoader(runner: CommandRunner()))
        return registry
    }
}
