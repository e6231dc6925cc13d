import Foundation

/// Steps several scenarios end with: wait for the app's rollout, then check its readiness URL.
extension ScenarioToolbox {
    /// `kubectl rollout status deployment/<app>`; outputs the deployment's name.
    public func rolloutStep(id: StepID = "app.rollout", after dependencies: [StepID], timeout: Duration)
        -> RunbookStep
    {
        let deployment = manifest.releases.app.deployment
        let rollout = kubectl.rolloutStatus(deployment: deployment, timeout: timeout)
        return RunbookStep(
            id: id,
            title: "Wait for the rollout of deployment \(deployment)",
            dependsOn: dependencies,
            timeout: timeout + .seconds(60),
            inputs: ["deployment": deployment],
            invocations: [rollout]
        ) { context in
            try await context.runner.runChecked(rollout)
            return ["deployment": deployment]
        }
    }

    /// A native HTTP GET of the manifest's readiness URL, retried until 2xx or its timeout.
    public func readinessStep(id: StepID, after dependencies: [StepID]) -> RunbookStep {
        let readiness = manifest.readiness
        return RunbookStep(
            id: id,
            title: "Check \(readiness.url)",
            dependsOn: dependencies,
            inputs: ["url": readiness.url],
            commands: ["GET \(readiness.url) (retried until 2xx, at most \(readiness.timeout.manifestText))"]
        ) { context in
            guard let url = URL(string: readiness.url), url.scheme != nil else {
                throw ScenarioError.invalidReadinessURL(readiness.url)
            }
            let outcome = try await ReadinessProbe(url: url, timeout: readiness.timeout, clock: context.clock)
                .waitUntilReady()
            return ["status": String(outcome.statusCode), "attempts": String(outcome.attempts)]
        }
    }
}
