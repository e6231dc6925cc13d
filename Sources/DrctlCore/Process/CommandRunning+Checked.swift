extension CommandRunning {
    /// Runs the invocation and throws `CommandFailure` unless it exited with status 0.
    @discardableResult
    public func runChecked(_ invocation: CommandInvocation) async throws -> CommandResult {
        try await run(invocation).checked()
    }

    /// Runs the pipeline and throws `CommandFailure` naming the first stage that did not exit with status 0.
    @discardableResult
    public func runChecked(_ pipeline: CommandPipeline) async throws -> PipelineResult {
        try await run(pipeline).checked()
    }
}
