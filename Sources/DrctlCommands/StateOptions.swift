import ArgumentParser
import DrctlCore

/// Options of the commands that read or change the journal without a manifest (`runs`, `resume`, `unlock`).
struct StateOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(
        help: """
            Where runs are journaled: a folder, or s3://BUCKET/PREFIX to share runs and locks with a team \
            (default: $DRCTL_STATE_DIR, else $XDG_STATE_HOME/drctl, else ~/.local/state/drctl).
            """)
    var stateDir: String?

    /// A folder, or `s3://bucket/prefix` for state shared by a team.
    var stateLocation: String { StateDirectory.resolve(flag: stateDir) }

    func backend() throws -> any StateBackend {
        try StateBackends.make(location: stateLocation, runner: CommandRunner())
    }
}
