extension Duration {
    /// Parses a manifest duration: whole numbers with the units `d`, `h`, `m`, `s`, largest first, each at most
    /// once: `90s`, `30m`, `4h`, `1d`, `1h30m`. Nil when the text is not such a duration.
    public init?(manifestText text: String) {
        var remaining = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !remaining.isEmpty else { return nil }
        var total: Int64 = 0
        var allowedUnits = Self.manifestUnits[...]
        while !remaining.isEmpty {
            let digits = remaining.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
            remaining = remaining.dropFirst(digits.count)
            guard let symbol = remaining.first,
                let index = allowedUnits.firstIndex(where: { $0.symbol == symbol })
            else { return nil }
            remaining = remaining.dropFirst()
            let (seconds, overflow) = amount.multipliedReportingOverflow(by: allowedUnits[index].seconds)
            guard !overflow else { return nil }
            total += seconds
            allowedUnits = allowedUnits[(index + 1)...]
        }
        self = .seconds(total)
    }

    /// The manifest spelling of this duration, which `init(manifestText:)` reads back: `1h30m`, `90s` → `1m30s`.
    /// Fractions of a second are dropped; manifests never produce them.
    public var manifestText: String {
        var seconds = components.seconds
        guard seconds > 0 else { return "0s" }
        var text = ""
        for unit in Self.manifestUnits where seconds >= unit.seconds {
            text += "\(seconds / unit.seconds)\(unit.symbol)"
            seconds %= unit.seconds
        }
        return text
    }

    /// What the parser accepts, for error messages.
    public static let acceptedManifestText = "a duration like 90s, 30m, 4h, 1d or 1h30m"

    private static let manifestUnits: [(symbol: Character, seconds: Int64)] = [
        ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1),
    ]
}
