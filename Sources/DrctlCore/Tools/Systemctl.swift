import Foundation

/// Command lines for `systemctl`: only reading a unit's properties (drctl never starts or enables units; the
/// schedule's README line tells the operator how).
public struct Systemctl: Sendable, Hashable {
    public var executable: String

    public init(executable: String = "systemctl") {
        self.executable = executable
    }

    /// `systemctl show UNIT --property=A,B [--timestamp=utc]`: `Key=Value` lines.
    public func show(_ unit: String, properties: [String], utcTimestamps: Bool = false) -> CommandInvocation {
        var arguments = ["show", unit, "--property=" + properties.joined(separator: ",")]
        if utcTimestamps { arguments.append("--timestamp=utc") }
        return CommandInvocation(executable, arguments)
    }

    /// `systemctl` when installed at its usual place, else nil.
    public static var installed: Systemctl? {
        ["/usr/bin/systemctl", "/bin/systemctl"].first { FileManager.default.isExecutableFile(atPath: $0) }
            .map(Systemctl.init(executable:))
    }
}
