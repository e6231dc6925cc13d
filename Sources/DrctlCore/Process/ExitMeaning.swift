import Foundation

/// What the way a program ended means. The tool wrapper that builds an invocation declares it (`ExitMeanings`);
/// `CommandResult.meaning` reads a result through that declaration, and `checked()` puts it on the
/// `CommandFailure` it throws. Nothing outside Process/ reads an exit status.
public enum ExitMeaning: Sendable, Hashable {
    case succeeded
    /// What the program was asked about is not there: kubectl's `(NotFound)`, helm's `release: not found`, a 404
    /// from aws, a file gzip cannot find. Probes read it as "no"; anything else that fails is "cannot tell".
    case absent
    /// The program read its input and refused it; running it again will not help (`gzip -dc` on truncated bytes,
    /// psql stopping on the backup's SQL). The text says so, with the program first: `psql could not load it`.
    case refused(String)
    /// Someone else holds what the program needed, for now: a session PostgreSQL could not end yet, a database
    /// another process was creating, a helm release another operation is changing. The text says who. The same
    /// request may pass once they let go; retry loops read this meaning, never the program's words.
    case contended(String)
    /// Anything else: the program, or what it talks to, failed.
    case failed

    /// `.contended`, whatever its text.
    public var isContended: Bool {
        if case .contended = self { return true }
        return false
    }
}

/// How one program's ways of ending read: rules tried in order against a result that did not exit 0; the first
/// that matches gives the meaning, and no rule matching means `.failed`. Declared where the invocation is built.
public struct ExitMeanings: Sendable, Hashable {
    public struct Rule: Sendable, Hashable {
        /// The status this rule reads; nil: any status but success.
        public var status: TerminationStatus?
        /// Texts one of which standard error must hold; empty: whatever it says.
        public var standardErrorHolds: [String]
        public var meaning: ExitMeaning
    }

    public var rules: [Rule]

    public init(_ rules: [Rule] = []) {
        self.rules = rules
    }

    /// A failure whose standard error holds one of `markers` means `meaning`.
    public static func when(
        standardErrorHolds markers: [String], _ meaning: ExitMeaning
    ) -> Rule {
        Rule(status: nil, standardErrorHolds: markers, meaning: meaning)
    }

    /// `status` means `meaning` (when standard error holds one of `markers`, if given).
    public static func when(
        _ status: TerminationStatus, standardErrorHolds markers: [String] = [], _ meaning: ExitMeaning
    ) -> Rule {
        Rule(status: status, standardErrorHolds: markers, meaning: meaning)
    }

    /// What `status` with `standardError` means.
    public func meaning(of status: TerminationStatus, standardError: String) -> ExitMeaning {
        if status.isSuccess { return .succeeded }
        let rule = rules.first { rule in
            (rule.status == nil || rule.status == status)
                && (rule.standardErrorHolds.isEmpty || rule.standardErrorHolds.contains { standardError.contains($0) })
        }
        return rule?.meaning ?? .failed
    }
}

extension CommandInvocation {
    /// The same invocation with `rules` declared before the ones it has (a wrapper's own rules first, then the
    /// program's general ones).
    public func declaring(_ rules: ExitMeanings.Rule...) -> CommandInvocation {
        declaring(ExitMeanings(rules))
    }

    /// The same invocation with `meanings` declared before the ones it has.
    public func declaring(_ meanings: ExitMeanings) -> CommandInvocation {
        var copy = self
        copy.exitMeanings.rules.insert(contentsOf: meanings.rules, at: 0)
        return copy
    }
}

extension CommandResult {
    /// What this result means, by the rules its invocation declares.
    public var meaning: ExitMeaning {
        invocation.exitMeanings.meaning(of: status, standardError: standardErrorTail)
    }

    /// The program did what it was asked.
    public var succeeded: Bool { meaning == .succeeded }

    /// The result when the program succeeded; nil when what it was asked about is absent; throws any other failure.
    public func checkedUnlessAbsent() throws(CommandFailure) -> CommandResult? {
        if meaning == .absent { return nil }
        return try checked()
    }
}

extension CommandFailure {
    /// What the failing program's refusal says, its cause after it (`psql could not load it: ERROR: …`); nil
    /// unless its declared meaning is `.refused`.
    public var refusal: String? {
        guard case .refused(let what) = meaning else { return nil }
        return what + ": " + causeOrStatus
    }

    /// What the program said went wrong, or how it ended when it said nothing.
    public var causeOrStatus: String { cause ?? "\(program) \(status)" }
}
