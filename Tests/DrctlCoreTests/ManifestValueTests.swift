import DrctlCore
import Testing

@Suite struct ManifestValueTests {
    @Test(arguments: [
        ("10MB", 10_000_000), ("10 MB", 10_000_000), ("512KiB", 524_288), ("4096", 4_096), ("1B", 1),
        ("2GiB", 2_147_483_648), ("1kb", 1_000), ("3TB", 3_000_000_000_000),
    ])
    func parsesSizes(text: String, bytes: Int64) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "MB", "10XB", "-1MB", "1.5MB", "10 M B", "99999999999999999999B"])
    func rejectsWhatIsNotASize(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test(arguments: [0, 1, 1_000, 10_000_000, 524_288, 1_024_000, 1_234_567, 5 << 40])
    func sizeDescriptionsParseBackToTheSameSize(bytes: Int64) {
        let size = ByteSize(bytes: bytes)
        #expect(ByteSize(parsing: size.description) == size)
    }

    @Test func describesSizesTheWayPeopleWriteThem() {
        #expect(ByteSize(bytes: 10_000_000).description == "10MB")
        #expect(ByteSize(bytes: 524_288).description == "512KiB")
        #expect(ByteSize(bytes: 1_234_567).description == "1234567B")
    }

    @Test(arguments: [
        ("90s", 90), ("30m", 1_800), ("4h", 14_400), ("1d", 86_400), ("1h30m", 5_400), ("1d2h3m4s", 93_784),
        ("0s", 0),
    ])
    func parsesDurations(text: String, seconds: Int64) {
        #expect(Duration(manifestText: text) == .seconds(seconds))
    }

    @Test(arguments: ["", "4", "h", "4x", "30m1h", "1h1h", "1.5h", "-4h", "4 h"])
    func rejectsWhatIsNotADuration(text: String) {
        #expect(Duration(manifestText: text) == nil)
    }

    @Test func durationDescriptionsParseBack() {
        #expect(Duration.seconds(90).manifestText == "1m30s")
        #expect(Duration.seconds(5_400).manifestText == "1h30m")
        #expect(Duration.seconds(86_400).manifestText == "1d")
        #expect(Duration.zero.manifestText == "0s")
        for seconds: Int64 in [0, 1, 59, 60, 3_601, 86_399, 90_061, 2_592_000] {
            #expect(Duration(manifestText: Duration.seconds(seconds).manifestText) == .seconds(seconds))
        }
    }
}
