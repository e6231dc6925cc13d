import ArgumentParser
import DrctlCore

/// Options of the commands that read or change the journal without a manifest (`runs`, `resume`, `unlock`).
struct StateOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(
        help:
            "Where runs are journaled (default: $DRCTL_STATE_DIR, else $XDG_STATE_HOME/drctl, else ~/.local/state/drctl)."
    )
    var stateDir: String?

    var stateDirectory: String { StateDirectory.resolve(flag: stateDir) }
    var backend: LocalStateBackend { LocalStateBackend(root: stateDirectory) }
}
