import Foundation

/// Builds the `aws s3api` calls on single objects that drctl's shared state needs (`S3StateBackend`): a listing
/// by delimiter, get, put and delete, the writes conditional (`--if-none-match '*'`, `--if-match ETAG`). Pure:
/// nothing here starts a process. Every call asks for JSON and declares how aws ends: a missing key is
/// `.absent`, a condition that did not hold is `.refused(S3API.preconditionFailed)`.
public struct S3API: Sendable, Hashable {
    /// The `aws` program (`DRCTL_AWS` overrides it).
    public var executable: String
    public var bucket: String

    public init(executable: String = "aws", bucket: String) {
        self.executable = executable
        self.bucket = bucket
    }

    /// `aws s3api list-objects-v2 --bucket B --prefix P --delimiter /`: the "folders" under `prefix`.
    public func listPrefixes(under prefix: String) -> CommandInvocation {
        call(["list-objects-v2", "--bucket", bucket, "--prefix", prefix, "--delimiter", "/"])
    }

    /// `aws s3api get-object --bucket B --key K FILE`: the object into `file`; its ETag in the JSON printed.
    public func getObject(_ key: String, to file: String) -> CommandInvocation {
        call(["get-object", "--bucket", bucket, "--key", key, file])
    }

    /// `aws s3api put-object --bucket B --key K --body FILE`; with `onlyIfAbsent`, `--if-none-match '*'`: refused
    /// when the key exists.
    public func putObject(_ key: String, body file: String, onlyIfAbsent: Bool = false) -> CommandInvocation {
        call(
            ["put-object", "--bucket", bucket, "--key", key, "--body", file]
                + (onlyIfAbsent ? ["--if-none-match", "*"] : []))
    }

    /// `aws s3api delete-object --bucket B --key K --if-match ETAG`: refused when the object was replaced.
    public func deleteObject(_ key: String, ifMatch etag: String) -> CommandInvocation {
        call(["delete-object", "--bucket", bucket, "--key", key, "--if-match", etag])
    }

    /// `aws s3 cp s3://B/PREFIX DIR --recursive --exclude '*' --include PATTERN --only-show-errors`: every object
    /// under `prefix` whose key (after it) matches `pattern`, into `directory`.
    public func copyDown(prefix: String, to directory: String, including pattern: String) -> CommandInvocation {
        declared(
            [
                "s3", "cp", "s3://\(bucket)/\(prefix)", directory, "--recursive", "--exclude", "*", "--include",
                pattern,
                "--only-show-errors",
            ])
    }

    /// What a conditional write says when its condition did not hold (`(PreconditionFailed)`, HTTP 412).
    public static let preconditionFailed = "aws refused the write: its condition did not hold"

    private func call(_ arguments: [String]) -> CommandInvocation {
        declared(["s3api"] + arguments)
    }

    private func declared(_ arguments: [String]) -> CommandInvocation {
        CommandInvocation(executable, arguments + ["--output", "json"]).declaring(
            ExitMeanings.when(standardErrorHolds: ["PreconditionFailed", "(412)"], .refused(Self.preconditionFailed)),
            S3ObjectStore.objectAbsent)
    }
}
