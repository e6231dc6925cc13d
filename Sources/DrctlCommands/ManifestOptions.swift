import ArgumentParser

/// Options every scenario command shares.
struct ManifestOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .long], help: "The environment's manifest, e.g. manifests/production.yaml.")
    var file: String

    @Option(name: [.customShort("o"), .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(help: "Where runs are journaled (default: $DRCTL_STATE_DIR, else ~/.local/state/drctl).")
    var stateDir: String?
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}
