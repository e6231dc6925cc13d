/// Runs `body`, then awaits `tearDown` — also when `body` throws — so what a test made (a database, a folder) is
/// gone before the test ends, instead of being dropped by a detached task that may outlive the test process.
public func withTearDown<Result>(
    _ tearDown: () async -> Void, _ body: () async throws -> Result
) async throws -> Result {
    let result: Result
    do {
        result = try await body()
    } catch {
        await tearDown()
        throw error
    }
    await tearDown()
    return result
}
