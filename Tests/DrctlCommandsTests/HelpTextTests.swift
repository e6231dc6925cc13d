import ArgumentParser
import DrctlCommands
import Testing

/// Every command's help teaches by example.
@Suite("Help texts")
struct HelpTextTests {
    static func leaves(_ command: any ParsableCommand.Type, path: [String] = []) -> [[String]] {
        let name = command.configuration.commandName ?? ""
        let here = path + [name]
        let children = command.configuration.subcommands
        return [here] + children.flatMap { leaves($0, path: here) }
    }

    @Test("drctl --help and every subcommand's help show an example")
    func everyHelpHasAnExample() {
        for path in Self.leaves(DrctlCommand.self) {
            let help = DrctlCommand.helpMessage(for: Self.command(at: path))
            #expect(help.contains("Example"), "`\(path.joined(separator: " ")) --help` shows no example")
        }
    }

    static func command(at path: [String]) -> any ParsableCommand.Type {
        var command: any ParsableCommand.Type = DrctlCommand.self
        for name in path.dropFirst() {
            if let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == name }) {
                command = next
            }
        }
        return command
    }
}
