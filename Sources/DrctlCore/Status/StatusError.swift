import Foundation

/// Why `drctl status` exits non-zero.
public enum StatusError: Error, Sendable, LocalizedError, Equatable {
    /// At least one checklist check failed; the report printed before says which and what to do.
    case checksFailed(failed: [String])
    /// The Prometheus textfile could not be written.
    case metricsNotWritten(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .checksFailed(let failed):
            "\(failed.count) checklist check(s) failed: \(failed.joined(separator: ", ")) — see the evidence and remedy above."
        case .metricsNotWritten(let path, let reason):
            "could not write the Prometheus textfile \(path): \(reason) — check that its folder exists and is writable."
        }
    }
}

extension StatusError: ClassifiedError {
    /// A failed checklist check is a failure like a failed step: 1, so `drctl status || page` works.
    public var failureKind: FailureKind {
        switch self {
        case .checksFailed, .metricsNotWritten: .failed
        }
    }
}
