import Foundation

/// Converts a cron schedule into a systemd `OnCalendar=` expression in UTC.
public enum SystemdCalendar {
    /// `0 2 * * *` → `*-*-* 02:00:00 UTC`; `30 1 * * 1-5` → `Mon,Tue,Wed,Thu,Fri *-*-* 01:30:00 UTC`.
    public static func onCalendar(for cron: CronSchedule) throws(ScheduleError) -> String {
        if cron.dayOfMonth != "*" && cron.dayOfWeek != "*" {
            // cron runs when EITHER matches, systemd when BOTH do: no faithful translation.
            throw .notExpressible(
                schedule: cron.description,
                reason: "cron reads a day of month together with a day of week as 'either', systemd as 'both';"
                    + " restrict only one of them")
        }
        let ranges = CronSchedule.ranges.map(\.range)
        let minute = expand(cron.minute, ranges[0], width: 2)
        let hour = expand(cron.hour, ranges[1], width: 2)
        let day = expand(cron.dayOfMonth, ranges[2], width: 2)
        let month = expand(cron.month, ranges[3], width: 2)
        var text = ""
        if cron.dayOfWeek != "*" {
            let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            let days = Set(numbers(cron.dayOfWeek, range: ranges[4]).map { $0 % 7 }).sorted()
            text += days.map { names[$0] }.joined(separator: ",") + " "
        }
        return text + "*-\(month)-\(day) \(hour):\(minute):00 UTC"
    }

    private static func expand(_ field: String, _ range: ClosedRange<Int>, width: Int) -> String {
        if field == "*" { return "*" }
        return numbers(field, range: range).map { String(format: "%0\(width)d", $0) }.joined(separator: ",")
    }

    /// Every number a (validated) cron field matches, ascending.
    static func numbers(_ field: String, range: ClosedRange<Int>) -> [Int] {
        var result = Set<Int>()
        for part in field.split(separator: ",") {
            let stepParts = part.split(separator: "/")
            let step = stepParts.count == 2 ? Int(stepParts[1]) ?? 1 : 1
            let base = stepParts[0]
            var bounds = range
            if base != "*" {
                let ends = base.split(separator: "-").compactMap { Int($0) }
                guard let low = ends.first, let high = ends.last else { continue }
                bounds = low...high
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: max(step, 1)))
        }
        return result.sorted()
    }
}
