import Foundation
import Testing

@testable import DrctlCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Exit statuses become outcomes in one place: each tool wrapper declares what its exits mean
/// (`ExitMeanings`), and `CommandResult.meaning` / `checked()` read every result through that declaration.
@Suite struct ExitMeaningTests {
    let postgres = Postgres(connection: PostgresConnection(host: "db", user: "u", database: "d", password: "pw"))

    private func ended(
        _ invocation: CommandInvocation, _ status: TerminationStatus, stderr: String = ""
    ) -> CommandResult {
        CommandResult(invocation: invocation, status: status, standardErrorTail: stderr)
    }

    @Test func gzipDeclaresDamageAsRefusalAndAMissingFileAsAbsent() {
        let gzip = Gzip()
        #expect(ended(gzip.strictDecompress(), .exited(0)).meaning == .succeeded)
        #expect(ended(gzip.strictDecompress(), .exited(1)).meaning == .refused(Gzip.corrupt))
        #expect(ended(gzip.strictDecompress(), .exited(2)).meaning == .refused(Gzip.trailingGarbage))
        #expect(ended(gzip.strictDecompress(), .signalled(SIGKILL)).meaning == .failed)
        #expect(
            ended(gzip.test(file: "/x"), .exited(1), stderr: "gzip: /x: No such file or directory").meaning == .absent)
        #expect(
            ended(gzip.test(file: "/x"), .exited(1), stderr: "gzip: /x: unexpected end of file").meaning
                == .refused(Gzip.corrupt))
        // pigz's decompress (bytes gzip -t already checked) declares nothing: any failure is a failure.
        #expect(ended(gzip.decompress(file: "/x"), .exited(1)).meaning == .failed)
    }

    @Test func psqlStoppingOnTheScriptIsARefusalAnyOtherExitAFailure() {
        let script = postgres.runScript(singleTransaction: true)
        #expect(ended(script, .exited(3)).meaning == .refused(Postgres.scriptRefused))
        #expect(ended(script, .exited(2)).meaning == .failed)
        #expect(
            ended(postgres.restoreArchive(file: "/b.dump"), .exited(1)).meaning
                == .refused("pg_restore could not restore it"))
    }

    /// The retry loops (recreating the new database, dropping one, helm over a pending release) read
    /// `.contended`, declared once by the wrapper: psql's SQLSTATE at VERBOSITY=verbose, helm's own words.
    @Test func contentionIsDeclaredByTheWrapperFromTheToolsOwnCodeOrWords() {
        let create = postgres.createDatabase("x")
        #expect(create.arguments.contains("VERBOSITY=verbose"))
        #expect(
            ended(create, .exited(1), stderr: "ERROR:  42P04: database \"x\" already exists\nLOCATION:  createdb")
                .meaning.isContended)
        // The severity may be translated; the code is not.
        #expect(
            ended(create, .exited(1), stderr: "FEHLER:  42P04: Datenbank »x« existiert bereits").meaning.isContended)
        #expect(
            ended(create, .exited(1), stderr: "ERROR:  42501: permission denied to create database").meaning == .failed)
        let drop = postgres.dropDatabase("x", force: true)
        #expect(
            ended(drop, .exited(1), stderr: "ERROR:  55006: database \"x\" is being accessed by other users")
                .meaning.isContended)
        #expect(
            ended(drop, .exited(1), stderr: "ERROR:  42501: must be a superuser to terminate superuser process")
                .meaning.isContended)
        #expect(
            ended(
                drop, .exited(1),
                stderr: "ERROR:  42501: permission denied to terminate process\nDETAIL:  Only roles with the SUPERUSER"
                    + " attribute may terminate processes of roles with the SUPERUSER attribute."
            ).meaning.isContended)
        // Not allowed to drop it at all: that is no contention, and no retry helps.
        #expect(ended(drop, .exited(1), stderr: "ERROR:  42501: must be owner of database x").meaning == .failed)
        let helm = Helm().upgradeInstall(release: "app", chart: "c")
        #expect(
            ended(
                helm, .exited(1),
                stderr: "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in"
                    + " progress"
            ).meaning.isContended)
        #expect(
            ended(helm, .exited(1), stderr: "Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
                .meaning.isContended)
        #expect(ended(helm, .exited(1), stderr: "Error: UPGRADE FAILED: timed out waiting").meaning == .failed)
    }

    @Test func clientsDeclareWhatIsAbsent() {
        #expect(
            ended(Kubectl().get("job", "x"), .exited(1), stderr: #"Error from server (NotFound): jobs "x" not found"#)
                .meaning == .absent)
        #expect(ended(Kubectl().get("job", "x"), .exited(1), stderr: "connection refused").meaning == .failed)
        #expect(
            ended(Helm().history(release: "app"), .exited(1), stderr: "Error: release: not found").meaning == .absent)
        let s3 = S3ObjectStore(bucket: "b")
        #expect(
            ended(s3.head("k"), .exited(254), stderr: "An error occurred (404) when calling the HeadObject operation")
                .meaning == .absent)
        let az = AzureBlobObjectStore(container: "c")
        #expect(ended(az.head("k"), .exited(3), stderr: "ErrorCode:BlobNotFound").meaning == .absent)
        let api = S3API(executable: "/opt/aws", bucket: "state")
        let put = api.putObject("locks/prod.lock", body: "/tmp/l", onlyIfAbsent: true)
        #expect(put.executable == "/opt/aws")
        #expect(put.arguments.suffix(4) == ["--if-none-match", "*", "--output", "json"])
        #expect(
            ended(put, .exited(254), stderr: "An error occurred (PreconditionFailed) when calling the PutObject")
                .meaning == .refused(S3API.preconditionFailed))
        #expect(
            ended(api.getObject("locks/prod.lock", to: "/tmp/l"), .exited(254), stderr: "(NoSuchKey)").meaning
                == .absent)
    }

    @Test func checkedCarriesTheMeaningAndSaysTheRefusalCauseFirst() throws {
        let refused = ended(
            postgres.runScript(singleTransaction: true), .exited(3),
            stderr: "psql:<stdin>:12: ERROR:  relation \"x\" does not exist")
        let failure = try #require(refused.failure)
        #expect(failure.meaning == .refused(Postgres.scriptRefused))
        #expect(failure.refusal == #"psql could not load it: psql:<stdin>:12: ERROR:  relation "x" does not exist"#)
        // Said nothing: how it ended stands in for the cause.
        #expect(
            ended(postgres.runScript(), .exited(3)).failure?.refusal == "psql could not load it: psql exit status 3")
        #expect(ended(postgres.runScript(), .exited(1)).failure?.refusal == nil)
    }

    @Test func checkedUnlessAbsentIsNilForAbsentAndThrowsAnyOtherFailure() throws {
        let probe = Kubectl().get("job", "x")
        #expect(try ended(probe, .exited(1), stderr: "Error from server (NotFound)").checkedUnlessAbsent() == nil)
        #expect(try ended(probe, .exited(0)).checkedUnlessAbsent() != nil)
        #expect(throws: CommandFailure.self) {
            try ended(probe, .exited(1), stderr: "Unauthorized").checkedUnlessAbsent()
        }
    }

    @Test func aPipelineNamesTheFirstStageThatFailedByItselfWithItsMeaning() throws {
        let pipeline = CommandPipeline([
            CommandInvocation("aws", ["s3", "cp", "s3://b/k", "-"]), Gzip().strictDecompress(),
            postgres.runScript(singleTransaction: true),
        ])
        let result = PipelineResult(
            pipeline: pipeline,
            stages: [
                ended(pipeline.stages[0], .signalled(SIGPIPE)),
                ended(
                    pipeline.stages[1], .exited(2), stderr: "gzip: stdin: decompression OK, trailing garbage ignored"),
                ended(pipeline.stages[2], .exited(3), stderr: "ERROR:  syntax error"),
            ], duration: .zero)
        let failure = try #require(result.failure)
        #expect(failure.stageIndex == 1)
        #expect(failure.refusal == Gzip.trailingGarbage + ": gzip: stdin: decompression OK, trailing garbage ignored")
        #expect(throws: CommandFailure.self) { try result.checked() }
    }

    /// A meaning is the code's, not the plan's: encoding an invocation leaves it out, so plans and journals keep
    /// the shape they had.
    @Test func meaningsAreNotEncoded() throws {
        let json = String(decoding: try JSONEncoder().encode(Gzip().strictDecompress()), as: UTF8.self)
        #expect(!json.contains("exitMeanings"))
        let decoded = try JSONDecoder().decode(CommandInvocation.self, from: Data(json.utf8))
        #expect(decoded.arguments == ["-dc"])
    }
}
