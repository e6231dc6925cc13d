import DrctlCore
import Foundation
import Testing

@Suite struct ManifestReviewTests {
    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    @Test func aReviewDateAndIntervalAreRead() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "objectives:", with: "review: { lastReviewed: 2026-10-01, every: 30d }\nobjectives:")
        let review = try #require(try load(yaml).review)
        #expect(review.lastReviewed == Date(timeIntervalSince1970: 1_790_812_800))
        #expect(review.every == .seconds(30 * 86_400))
        #expect(review.due == Date(timeIntervalSince1970: 1_790_812_800 + 30 * 86_400))
    }

    @Test func theIntervalDefaultsToAQuarterAndTheKeyIsOptional() throws {
        let yaml = ManifestFixtures.valid(
            replacing: "objectives:", with: "review:\n  lastReviewed: \"2026-10-01\"\nobjectives:")
        #expect(try load(yaml).review?.every == .seconds(90 * 86_400))
        #expect(try load(ManifestFixtures.valid).review == nil)
    }

    @Test func anImpossibleDayOrAnUnknownKeyIsRefusedWithItsPosition() throws {
        let badDay = ManifestFixtures.valid(
            replacing: "objectives:", with: "review: { lastReviewed: 2026-02-30 }\nobjectives:")
        #expect(throws: ManifestError.self) { try load(badDay) }
        let badKey = ManifestFixtures.valid(
            replacing: "objectives:", with: "review: { lastReviewd: 2026-02-01 }\nobjectives:")
        do {
            _ = try load(badKey)
            Issue.record("an unknown key under review was accepted")
        } catch {
            #expect(error.localizedDescription.contains("did you mean 'lastReviewed'"))
        }
    }
}
