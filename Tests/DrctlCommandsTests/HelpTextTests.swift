import ArgumentParser
import DrctlCommands
import Foundation
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

    static let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden/help").path

    /// Every `--help` is pinned as golden text (100 columns): a changed help text is a reviewed change.
    /// `DRCTL_UPDATE_GOLDEN=1` rewrites the files instead; review the diff.
    @Test("every command's --help matches its golden snapshot")
    func everyHelpMatchesItsSnapshot() throws {
        let update = ProcessInfo.processInfo.environment["DRCTL_UPDATE_GOLDEN"] == "1"
        if update {
            try FileManager.default.createDirectory(atPath: Self.goldenFolder, withIntermediateDirectories: true)
        }
        var expectedFiles: Set<String> = []
        for path in Self.leaves(DrctlCommand.self) {
            let help = DrctlCommand.helpMessage(for: Self.command(at: path), columns: 100) + "\n"
            let file = Self.goldenFolder + "/" + path.joined(separator: "-") + ".txt"
            expectedFiles.insert((file as NSString).lastPathComponent)
            if update { try help.write(toFile: file, atomically: true, encoding: .utf8) }
            let golden = try? String(contentsOfFile: file, encoding: .utf8)
            let name = path.joined(separator: " ")
            #expect(
                golden == help,
                "`\(name) --help` changed (or has no snapshot); if intended, run the tests with DRCTL_UPDATE_GOLDEN=1 and review the diff of \(file)"
            )
        }
        let present = Set((try? FileManager.default.contentsOfDirectory(atPath: Self.goldenFolder)) ?? [])
        #expect(
            present == expectedFiles,
            "snapshots of commands that no longer exist: \(present.subtracting(expectedFiles))")
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
