import Crypto
import Foundation

/// SHA-256 fingerprints (lowercase hex) of manifests, step inputs and plans.
public enum Fingerprint {
    public static func of(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    public static func of(_ text: String) -> String { of(Data(text.utf8)) }

    /// Order-independent: keys are sorted, each pair is length-prefixed so `a=b,c` and `a=b` + `c` differ.
    public static func of(_ values: [String: String]) -> String {
        var canonical = ""
        for key in values.keys.sorted() {
            let value = values[key] ?? ""
            canonical += "\(key.utf8.count):\(key)=\(value.utf8.count):\(value)\n"
        }
        return of(canonical)
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

extension Runbook {
    /// The fingerprint of what the run will do: each step's id, dependencies, destructiveness, inputs and command
    /// lines, in order. A change between the interrupted run and the resume is drift. Secrets play no part: a
    /// plan read without the password has the fingerprint of the run made with it.
    public var planFingerprint: String {
        var canonical = "runbook \(id)\n"
        for step in steps {
            canonical += "step \(step.id)\n"
            canonical += "after \(step.dependsOn.map(\.rawValue).sorted().joined(separator: ","))\n"
            canonical += "destructive \(step.destructive)\n"
            canonical += "inputs \(step.inputFingerprint)\n"
            for command in step.commands { canonical += "command \(Self.withoutSecretAssignments(command))\n" }
        }
        return Fingerprint.of(canonical)
    }

    /// A command line without its `NAME='***'` prefixes: they are there only when the secret is set.
    static func withoutSecretAssignments(_ commandLine: String) -> String {
        let assignment = "='" + Redactor.mask + "' "
        guard commandLine.contains(assignment) else { return commandLine }
        return commandLine.replacing(#/[A-Za-z_][A-Za-z0-9_]*='\*\*\*' /#, with: "")
    }
}
