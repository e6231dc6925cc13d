/// Durations as Go's `time.ParseDuration` reads them (`--timeout 300s` for kubectl and helm).
public enum GoDuration {
    /// Whole seconds, rounded up so a limit is never shortened: `.seconds(90)` → `90s`, `.milliseconds(1500)` → `2s`.
    /// At least `1s`: kubectl reads `--timeout 0s` as "wait forever", the opposite of what a zero limit means.
    public static func format(_ duration: Duration) -> String {
        let components = duration.components
        var seconds = components.seconds
        if components.attoseconds > 0 { seconds += 1 }
        return "\(max(seconds, 1))s"
    }
}
