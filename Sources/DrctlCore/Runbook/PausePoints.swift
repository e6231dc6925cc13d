import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Exact moments at which a run stops itself with SIGSTOP (`DRCTL_PAUSE_AT`), to rehearse or test what a kill or
/// a lost connection at that moment leaves behind, without racing the run: `start:STEP` (journaled as started,
/// before its action), `effect:STEP` (the action done, its completion not yet journaled) and `done:STEP`
/// (journaled as completed). The stopped process waits for SIGCONT (`kill -CONT <pid>`) or a kill; its children
/// (a tunnel, an `aws s3 sync` beside it) keep running, as they would. Only a started run pauses, never a resume.
public struct PausePoints: Sendable, Hashable {
    public enum Moment: String, Sendable, CaseIterable {
        case start, effect, done
    }

    public static let variable = "DRCTL_PAUSE_AT"
    public static let none = PausePoints(points: [])

    private var points: Set<String>

    private init(points: Set<String>) { self.points = points }

    /// `spec`: comma-separated `MOMENT:STEP` pairs, e.g. `effect:database.drop-old,start:database.restore`.
    public init(_ spec: String) throws(PausePointsError) {
        var points: Set<String> = []
        for item in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, Moment(rawValue: parts[0]) != nil, !parts[1].isEmpty else {
                throw PausePointsError(item: item)
            }
            points.insert(item)
        }
        self.points = points
    }

    /// The points named in the environment's `DRCTL_PAUSE_AT`, if any.
    public static func from(environment: [String: String]) throws(PausePointsError) -> PausePoints {
        guard let spec = environment[variable] else { return .none }
        return try PausePoints(spec)
    }

    /// Stops the process if `moment` of `step` is a pause point, saying so through `log` first.
    func pause(_ moment: Moment, of step: StepID, log: (String) -> Void) {
        guard points.contains("\(moment.rawValue):\(step.rawValue)") else { return }
        let pid = getpid()
        log(
            "paused at \(moment.rawValue):\(step.rawValue) (\(Self.variable)): process \(pid) is stopped until"
                + " `kill -CONT \(pid)`")
        raise(SIGSTOP)
    }
}

public struct PausePointsError: Error, LocalizedError, ClassifiedError, Sendable {
    public var item: String
    public var failureKind: FailureKind { .usage }
    public var errorDescription: String? {
        "\(PausePoints.variable): '\(item)' is not MOMENT:STEP with MOMENT one of "
            + PausePoints.Moment.allCases.map(\.rawValue).joined(separator: ", ")
            + " (e.g. \(PausePoints.variable)=effect:database.drop-old); unset it to run without pausing"
    }
}
