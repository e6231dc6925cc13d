import Foundation

/// Rebuilds a runbook from its scenario name and the parameters journaled when the run started, so that
/// `drctl resume` runs the same steps with the same inputs (or detects that they changed).
public struct ScenarioRegistry: Sendable {
    /// Builds the runbook for these parameters (loads the manifest at `parameters.manifest`, decodes
    /// `parameters.options(Scenario.Options.self)`).
    public typealias Factory = @Sendable (_ parameters: RunParameters) async throws -> Runbook

    private var factories: [String: Factory] = [:]

    public init() {}

    public mutating func register(_ runbookID: String, factory: @escaping Factory) {
        factories[runbookID] = factory
    }

    public var names: [String] { factories.keys.sorted() }

    public func makeRunbook(id: String, parameters: RunParameters) async throws -> Runbook {
        guard let factory = factories[id] else { throw RunbookError.unknownScenario(id, known: names) }
        return try await factory(parameters)
    }
}
