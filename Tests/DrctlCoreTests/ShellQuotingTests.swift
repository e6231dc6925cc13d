import DrctlCore
import Testing

@Suite struct ShellQuotingTests {
    @Test func quotesOnlyWhatNeedsIt() {
        #expect(ShellQuoting.join(["psql", "-c", "SELECT 1;", "it's"]) == "psql -c 'SELECT 1;' 'it'\\''s'")
        #expect(ShellQuoting.quote("") == "''")
    }

    @Test func redactsSecretsEverywhereInTheCommandLine() {
        let invocation = CommandInvocation(
            "psql",
            ["postgresql://valeo:s3cret@db/valeo_erp"],
            environment: ["PGPASSWORD": "s3cret"],
            secrets: ["s3cret"]
        )
        #expect(invocation.redactedCommandLine == "PGPASSWORD='***' psql 'postgresql://valeo:***@db/valeo_erp'")
        #expect(!invocation.description.contains("s3cret"))
    }
}
