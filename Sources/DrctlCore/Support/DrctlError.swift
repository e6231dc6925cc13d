import Foundation

/// Errors of the command layer that are not owned by a more specific domain.
public enum DrctlError: Error, Sendable, LocalizedError {
    case notYetImplemented(feature: String, issue: Int)

    public var errorDescription: String? {
        switch self {
        case .notYetImplemented(let feature, let issue):
            return
                "\(feature) is not implemented yet (tracked as issue \(issue)). Use `drctl plan` to see what it will do."
        }
    }
}
