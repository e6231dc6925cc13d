import Foundation

/// An amount of bytes written the way people write it in a manifest: `10MB`, `512KiB`, `2GB`, `4096`.
///
/// Decimal units (`kB`/`KB`, `MB`, `GB`, `TB`) are powers of 1000, binary units (`KiB`, `MiB`, `GiB`, `TiB`) powers
/// of 1024, as `du --si` and `du -h` print them. Units are matched without regard to case.
public struct ByteSize: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) {
        self.bytes = bytes
    }

    /// Parses `10MB`, `10 MB`, `512KiB`, `4096` or `4096B`; nil when the text is not a size.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
        let unitText = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = Self.units.first(where: { $0.symbol.lowercased() == unitText }) else { return nil }
        let (product, overflow) = amount.multipliedReportingOverflow(by: unit.factor)
        guard !overflow else { return nil }
        self.bytes = product
    }

    /// The shortest exact spelling, which parses back to the same value: `10MB`, `512KiB`, `1234B`.
    public var description: String {
        guard bytes != 0 else { return "0B" }
        let exact = Self.units.filter { !$0.symbol.isEmpty && bytes % $0.factor == 0 }
        let best = exact.max { $0.factor < $1.factor }
        guard let unit = best else { return "\(bytes)B" }
        return "\(bytes / unit.factor)\(unit.symbol)"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool {
        lhs.bytes < rhs.bytes
    }

    /// What the parser accepts, for error messages.
    public static let acceptedUnits = "B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"

    private static let units: [(symbol: String, factor: Int64)] = [
        ("", 1), ("B", 1),
        ("kB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]
}
