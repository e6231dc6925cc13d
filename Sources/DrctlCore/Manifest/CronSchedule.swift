/// A five-field cron expression (`minute hour day-of-month month day-of-week`), always read as UTC.
///
/// Each field is `*`, a number, a range `a-b`, a list `a,b` or a step `*/n` / `a-b/n`, with numbers in the field's
/// range; names (`MON`, `JAN`) and `@daily` shortcuts are not accepted, so every emitter reads the same thing.
public struct CronSchedule: Sendable, Hashable, Codable, CustomStringConvertible {
    public let fields: [String]

    /// The allowed numbers of each field, in order.
    static let ranges: [(name: String, range: ClosedRange<Int>)] = [
        ("minute", 0...59), ("hour", 0...23), ("day of month", 1...31), ("month", 1...12), ("day of week", 0...7),
    ]

    /// Parses `text`; nil with the reason when it is not a five-field expression drctl understands.
    public static func parse(_ text: String) -> Result<CronSchedule, CronScheduleError> {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            return .failure(.init(reason: "it has \(fields.count) fields, a cron schedule has 5"))
        }
        for (field, spec) in zip(fields, ranges) {
            if let problem = check(field, range: spec.range) {
                return .failure(.init(reason: "\(spec.name) '\(field)': \(problem)"))
            }
        }
        return .success(CronSchedule(fields: fields))
    }

    private init(fields: [String]) {
        self.fields = fields
    }

    private static func check(_ field: String, range: ClosedRange<Int>) -> String? {
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { return "more than one '/'" }
            if stepParts.count == 2 {
                guard let step = Int(stepParts[1]), step > 0 else { return "the step after '/' must be a number > 0" }
                _ = step
            }
            let base = stepParts[0]
            if base == "*" { continue }
            let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count) else { return "'\(base)' is not a number or a range a-b" }
            var numbers: [Int] = []
            for bound in bounds {
                guard bound.allSatisfy(\.isASCII), let number = Int(bound) else {
                    return "'\(bound)' is not a number (names like MON are not accepted)"
                }
                guard range.contains(number) else {
                    return "\(number) is outside \(range.lowerBound)-\(range.upperBound)"
                }
                numbers.append(number)
            }
            if numbers.count == 2, numbers[0] > numbers[1] { return "the range \(base) runs backwards" }
            if stepParts.count == 2, bounds.count == 1 { return "a step needs '*' or a range before '/'" }
        }
        return nil
    }

    public var minute: String { fields[0] }
    public var hour: String { fields[1] }
    public var dayOfMonth: String { fields[2] }
    public var month: String { fields[3] }
    public var dayOfWeek: String { fields[4] }

    /// The expression as cron writes it: the five fields separated by one space.
    public var description: String { fields.joined(separator: " ") }
}

/// Why a text is not a cron schedule.
public struct CronScheduleError: Error, Sendable, Hashable {
    public var reason: String
}
