import Foundation

/// The time formats the wrapped tools print:
/// - RFC 3339 with any number of fraction digits: helm history/status JSON (`2026-11-25T14:20:11.411380123Z`),
///   `aws s3api list-objects-v2` (`2026-11-25T14:25:47.000Z`), az (`2026-11-25T14:25:47+00:00`);
/// - Go's `time.String()` in `helm list` (`2026-11-25 14:20:11.41138 +0100 CET`);
/// - HTTP dates in `aws s3api head-object` (`Wed, 25 Nov 2026 14:25:47 GMT`).
/// An empty string is "no time".
public enum ToolTimestamp {
    public static func parse(_ text: String) -> Date? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return nil }
        return parseRFC3339(text) ?? parseGoString(text) ?? parseHTTPDate(text)
    }

    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> Date? {
        guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
        if text.isEmpty || text.hasPrefix("0001-01-01") { return nil }
        guard let date = parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "'\(text)' is not a time helm prints")
        }
        return date
    }

    /// `Wed, 25 Nov 2026 14:25:47 GMT`.
    private static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    private static func parseRFC3339(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        guard scalars.count >= 20, scalars[10] == UInt8(ascii: "T") else { return nil }
        return build(date: String(text.prefix(10)), time: String(text.dropFirst(11)))
    }

    /// `YYYY-MM-DD HH:MM:SS[.fraction] ±HHMM ZONE` (the zone name is ignored; the offset is what counts).
    private static func parseGoString(_ text: String) -> Date? {
        let words = text.split(separator: " ")
        guard words.count >= 3 else { return nil }
        let offset = String(words[2])
        guard offset.count == 5, let sign = offset.first, sign == "+" || sign == "-" else { return nil }
        let formattedOffset = String(offset.prefix(3)) + ":" + String(offset.suffix(2))
        return build(date: String(words[0]), time: String(words[1]) + formattedOffset)
    }

    /// `time` is `HH:MM:SS[.fraction]` followed by `Z` or `±HH:MM`.
    private static func build(date: String, time: String) -> Date? {
        let dateParts = date.split(separator: "-").compactMap { Int($0) }
        guard dateParts.count == 3 else { return nil }
        var clock = Substring(time)
        var offsetSeconds = 0
        if clock.hasSuffix("Z") {
            clock = clock.dropLast()
        } else if let signIndex = clock.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let zone = clock[clock.index(after: signIndex)...].split(separator: ":").compactMap { Int($0) }
            guard zone.count == 2 else { return nil }
            offsetSeconds = (zone[0] * 3600 + zone[1] * 60) * (clock[signIndex] == "-" ? -1 : 1)
            clock = clock[..<signIndex]
        } else {
            return nil
        }
        let secondsParts = clock.split(separator: ".", maxSplits: 1)
        let hms = secondsParts.first?.split(separator: ":").compactMap { Int($0) } ?? []
        guard hms.count == 3 else { return nil }
        var fraction = 0.0
        if secondsParts.count == 2 {
            let digits = secondsParts[1]
            guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let value = Double("0." + digits) else { return nil }
            fraction = value
        }
        var components = DateComponents()
        components.year = dateParts[0]
        components.month = dateParts[1]
        components.day = dateParts[2]
        components.hour = hms[0]
        components.minute = hms[1]
        components.second = hms[2]
        var calendar = Calendar(identifier: .gregorian)
        guard let utc = TimeZone(secondsFromGMT: 0) else { return nil }
        calendar.timeZone = utc
        guard let base = calendar.date(from: components) else { return nil }
        return base.addingTimeInterval(fraction - Double(offsetSeconds))
    }
}
