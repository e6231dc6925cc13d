extension Kubectl {
    /// `kubectl delete secret --selector owner=helm,name=RELEASE,version=N,status=STATUS`: deletes helm's record of
    /// one revision, and only while its labels still say `status` (helm keeps them in step with the release), so a
    /// revision that left the pending state in the meantime is not touched. Assumes helm's default storage driver
    /// (secrets).
    public func deleteHelmReleaseRecord(release: String, revision: String, status: String) -> CommandInvocation {
        CommandInvocation(
            executable,
            target.kubectlFlags()
                + ["delete", "secret", "--selector", "owner=helm,name=\(release),version=\(revision),status=\(status)"]
        )
    }
}
