import DrctlCommands
import Testing

@Suite("Root command configuration")
struct RootCommandConfigurationTests {
    @Test("drctl lists the runbook's scenarios as subcommands")
    func subcommandsCoverTheRunbook() {
        let names = DrctlCommand.configuration.subcommands.compactMap { $0.configuration.commandName }
        #expect(DrctlCommand.configuration.commandName == "drctl")
        for expected in ["plan", "rebuild", "restore", "rollback", "backup", "resume"] {
            #expect(names.contains(expected), "subcommand \(expected) missing from \(names)")
        }
    }
}
