import Foundation
import Testing

@testable import DrctlCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The off-site stream's verdict reads the load pipeline through the stages' declared exit meanings (no stage
/// indices, no gzip exit codes of its own), for a download stage and for a file drctl reads itself.
@Suite struct StreamVerdictTests {
    let gzip = Gzip()
    let psql = Postgres(connection: PostgresConnection(host: "db", user: "u", database: "d_restore_r1"))
        .runScript(singleTransaction: true)
    let download = CommandInvocation("aws", ["s3", "cp", "s3://b/d_backup_1.sql.gz", "-"])
    let sha = String(repeating: "a", count: 64)

    private func streamed(
        download status: TerminationStatus = .exited(0), gzip gzipStatus: TerminationStatus = .exited(0),
        gzipSays: String = "", psql psqlStatus: TerminationStatus = .exited(0), psqlSays: String = "",
        bytes: Int64 = 100, reachedEnd: Bool = true, heldHeadRefused: (any Error)? = nil
    ) -> PipelineResult {
        let pipeline = CommandPipeline(
            [download, gzip.strictDecompress(), psql], output: .discard,
            taps: [PipelineTap(afterStage: 0, readsToEnd: true)])
        return PipelineResult(
            pipeline: pipeline,
            stages: [
                CommandResult(invocation: pipeline.stages[0], status: status),
                CommandResult(invocation: pipeline.stages[1], status: gzipStatus, standardErrorTail: gzipSays),
                CommandResult(invocation: pipeline.stages[2], status: psqlStatus, standardErrorTail: psqlSays),
            ], duration: .zero,
            taps: [
                PipelineTap.Reading(
                    afterStage: 0, byteCount: bytes, sha256: heldHeadRefused == nil ? sha : "",
                    reachedEnd: reachedEnd, refusal: heldHeadRefused.map(PipelineTap.Refusal.init))
            ])
    }

    private func fromFile(
        gzip gzipStatus: TerminationStatus = .exited(0), gzipSays: String = "",
        psql psqlStatus: TerminationStatus = .exited(0), psqlSays: String = "", reachedEnd: Bool = true
    ) -> PipelineResult {
        var gunzip = gzip.strictDecompress()
        gunzip.standardInput = .file("/run/backup/d_backup_1.sql.gz")
        let pipeline = CommandPipeline([gunzip, psql], output: .discard, taps: [.input(readsToEnd: true)])
        return PipelineResult(
            pipeline: pipeline,
            stages: [
                CommandResult(invocation: pipeline.stages[0], status: gzipStatus, standardErrorTail: gzipSays),
                CommandResult(invocation: pipeline.stages[1], status: psqlStatus, standardErrorTail: psqlSays),
            ], duration: .zero,
            taps: [PipelineTap.Reading(afterStage: -1, byteCount: 100, sha256: sha, reachedEnd: reachedEnd)])
    }

    private func verdict(_ result: PipelineResult, expected: String? = nil) throws -> String {
        try OffsiteBackupFetcher.judge(
            result, name: "d_backup_1.sql.gz", loadedInto: "d_restore_r1", target: "d", listedSize: 100,
            expected: expected ?? sha)
    }

    private func refusal(_ result: PipelineResult, expected: String? = nil) -> String {
        do {
            _ = try verdict(result, expected: expected)
            return "(not refused)"
        } catch let error as ScenarioError {
            guard case .streamedBackupRefused(_, _, _, let reason) = error else { return "\(error)" }
            return reason
        } catch {
            return "(failed: \(error.localizedDescription))"
        }
    }

    @Test func aGoodStreamGivesItsDigest() throws {
        #expect(try verdict(streamed()) == sha)
        #expect(try verdict(fromFile()) == sha)
    }

    @Test func gzipsRefusalsComeFromItsDeclaration() {
        #expect(
            refusal(streamed(gzip: .exited(2), gzipSays: "gzip: stdin: decompression OK, trailing garbage ignored"))
                == "gzip found bytes after the end of the gzip data: gzip: stdin: decompression OK, trailing garbage"
                + " ignored")
        #expect(
            refusal(fromFile(gzip: .exited(1), gzipSays: "gzip: stdin: unexpected end of file"))
                == "gzip found the file corrupt or truncated: gzip: stdin: unexpected end of file")
    }

    @Test func psqlStoppingOnTheBackupsSQLIsARefusalCauseFirst() {
        let says = "psql:<stdin>:40: ERROR:  relation \"documents_header\" already exists"
        #expect(refusal(streamed(psql: .exited(3), psqlSays: says)) == "psql could not load it: " + says)
        #expect(refusal(fromFile(psql: .exited(3), psqlSays: says)) == "psql could not load it: " + says)
    }

    @Test func aChecksumOrSizeMismatchIsRefusedBeforeWhatGzipSaid() {
        #expect(refusal(streamed(gzip: .exited(1)), expected: String(repeating: "b", count: 64)).contains("SHA-256"))
        #expect(refusal(streamed(bytes: 99)) == "99 bytes arrived, but the store lists 100")
    }

    @Test func theHeldHeadsRefusalComesFirstUnlessTheDownloadEndedAndFailedByItself() {
        let other = RecoveryError.backupOfAnotherDatabase(file: "d_backup_1.sql.gz", database: "shop", expected: "d")
        // The tap cut the download off after the first MiB: aws's SIGPIPE is the tap's doing.
        #expect(
            refusal(
                streamed(
                    download: .signalled(SIGPIPE), gzip: .exited(1), bytes: 1 << 20, reachedEnd: false,
                    heldHeadRefused: other)) == "(failed: \(other.localizedDescription))")
        // The download ended inside the first MiB and succeeded: the origin check's word.
        #expect(
            refusal(streamed(gzip: .exited(1), bytes: 100, heldHeadRefused: other))
                == "(failed: \(other.localizedDescription))")
        // It ended inside the first MiB because aws failed: aws's failure, not a verdict on a cut head.
        #expect(
            refusal(
                streamed(
                    download: .exited(1), gzip: .exited(1), bytes: 10,
                    heldHeadRefused: RecoveryError.notADatabaseDump(file: "d_backup_1.sql.gz"))
            ).hasPrefix("(failed: stage 1 of the pipeline failed (aws, exit status 1)"))
    }

    /// The local one-pass load (`DatabaseRestorer.judgeLocal`): psql stopping on cut or garbled SQL before drctl
    /// read the file to its end — gzip then killed by SIGPIPE, its damage unsaid — is the backup's refusal (exit 3),
    /// never psql's bare failure (exit 1); gzip naming the damage is still named by it; psql that could not
    /// connect is a failure.
    @Test func aLocalLoadPsqlStoppedBeforeTheEndIsARefusal() {
        func judged(_ result: PipelineResult) -> (kind: FailureKind?, message: String) {
            do {
                try DatabaseRestorer.judgeLocal(result, file: "d_backup_1.sql.gz", sha256: sha, size: 100)
                return (nil, "(not refused)")
            } catch {
                return ((error as? any ClassifiedError)?.failureKind, error.localizedDescription)
            }
        }
        let says = "psql:<stdin>:12: ERROR:  syntax error at or near \"Z\""
        let stopped = judged(fromFile(gzip: .signalled(SIGPIPE), psql: .exited(3), psqlSays: says, reachedEnd: false))
        #expect(stopped.kind == .refused, "\(stopped.message)")
        #expect(stopped.message.hasPrefix("backup d_backup_1.sql.gz does not load: " + says), "\(stopped.message)")
        let damaged = judged(
            fromFile(
                gzip: .exited(1), gzipSays: "gzip: stdin: invalid compressed data--format violated", psql: .exited(3),
                psqlSays: says, reachedEnd: false))
        #expect(damaged.kind == .refused)
        #expect(damaged.message.contains("is corrupt: gzip -dc: gzip: stdin: invalid compressed data"), "\(damaged)")
        let unreachable = judged(
            fromFile(
                gzip: .signalled(SIGPIPE), psql: .exited(2), psqlSays: "psql: error: connection refused",
                reachedEnd: false))
        #expect(unreachable.kind == .failed, "\(unreachable.message)")
    }

    /// A psql without `\restrict` stops on drctl's first line: no backup is to blame, so it is a failure (exit 1)
    /// that names the client versions needed, off-site and local alike; a backup's own backslash command that
    /// psql's restricted mode refused is the backup's refusal.
    @Test func aPsqlWithoutRestrictedModeIsAFailureNamingTheVersionsNeeded() {
        let oldPsql = "invalid command \\restrict\nTry \\? for help."
        func judgedLocal(_ result: PipelineResult) -> Error? {
            do {
                try DatabaseRestorer.judgeLocal(result, file: "d_backup_1.sql.gz", sha256: sha, size: 100)
                return nil
            } catch { return error }
        }
        for error in [
            judgedLocal(fromFile(gzip: .signalled(SIGPIPE), psql: .exited(3), psqlSays: oldPsql)),
            judgedLocal(fromFile(gzip: .signalled(SIGPIPE), psql: .exited(3), psqlSays: oldPsql, reachedEnd: false)),
            { () -> Error? in
                do {
                    _ = try verdict(streamed(gzip: .signalled(SIGPIPE), psql: .exited(3), psqlSays: oldPsql))
                    return nil
                } catch { return error }
            }(),
        ] {
            let error = try? #require(error as? RecoveryError)
            #expect(error == .psqlWithoutRestrictedMode(file: "d_backup_1.sql.gz"))
            #expect(error?.failureKind == .failed)
            #expect(error?.localizedDescription.contains("15.14") == true)
        }
        let restricted = "psql:<stdin>:20: error: backslash commands are restricted; only \\unrestrict is allowed"
        #expect(
            refusal(streamed(gzip: .signalled(SIGPIPE), psql: .exited(3), psqlSays: restricted))
                == "psql could not load it: " + restricted)
    }

    @Test func aFailedDownloadOrAnyOtherFailureIsAFailureNotARefusal() {
        #expect(
            refusal(streamed(download: .exited(1), gzip: .exited(1))).hasPrefix(
                "(failed: stage 1 of the pipeline failed (aws, exit status 1)"))
        #expect(refusal(streamed(psql: .exited(2), psqlSays: "psql: error: connection refused")).hasPrefix("(failed:"))
        #expect(refusal(streamed(reachedEnd: false)) == "the stream ended before the download finished")
    }
}

/// drctl reading a stream for a few lines (`CommandPipeline.Output.lines`), as `grep` did: only lines that begin
/// with a wanted text are kept, whatever the chunking, and a long line is judged by its beginning only.
@Suite struct OutputLineKeepingTests {
    private func kept(_ chunks: [String], prefixes: [String] = DumpOriginCheck.statements) -> String {
        var collector = OutputStreamCollector(
            stream: .standardOutput, command: "gzip", redactor: Redactor(secrets: []), sink: nil,
            captureLimit: 1 << 20, tailLimit: 0, keepingLinesStartingWith: prefixes)
        for chunk in chunks { Data(chunk.utf8).withUnsafeBytes { collector.consume($0) } }
        collector.finish()
        return String(decoding: collector.captured, as: UTF8.self)
    }

    @Test func keepsOnlyTheWantedLinesAcrossChunks() {
        let dump =
            "--\n-- PostgreSQL database dump\n--\nSET x = 1;\nCREATE DATABASE other WITH TEMPLATE = x;\n"
            + "\\connect other\nCOPY t (a) FROM stdin;\n1\n\\.\n-- PostgreSQL database dump complete\n"
        let expected =
            "-- PostgreSQL database dump\nCREATE DATABASE other WITH TEMPLATE = x;\n\\connect other\n"
            + "-- PostgreSQL database dump complete\n"
        #expect(kept([dump]) == expected)
        // Split at every byte: a line's beginning arrives in pieces.
        #expect(kept(dump.map { String($0) }) == expected)
    }

    @Test func aLongLineIsJudgedByItsBeginningOnly() {
        let long = String(repeating: "x", count: OutputStreamCollector.maximumLineLength + 10) + "\\connect elsewhere\n"
        #expect(kept([long, "\\connect mine"]) == "\\connect mine\n")
    }

    @Test func theOriginCheckReadsGzipsOutputItselfNoGrep() {
        let pipeline = DumpOriginCheck(gzip: Gzip()).headPipeline(head: Data([0x1F, 0x8B]))
        #expect(pipeline.stages.map(\.executable) == ["gzip"])
        #expect(pipeline.output == .lines(startingWith: DumpOriginCheck.statements))
    }

    @Test func aFileTapShowsInThePlanInsteadOfCat() {
        var gunzip = Gzip().strictDecompress()
        gunzip.standardInput = .file("/run/backup/d.sql.gz")
        let pipeline = CommandPipeline([gunzip, CommandInvocation("psql")], taps: [.input(readsToEnd: true)])
        #expect(
            pipeline.redactedCommandLine == "< /run/backup/d.sql.gz \(PipelineTap.commandLineLabel) | gzip -dc | psql")
    }
}
