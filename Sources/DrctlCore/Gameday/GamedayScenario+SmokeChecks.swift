import Foundation

/// The drill's smoke checks, each a step after the recovery: a SQL value, an HTTP status, a command's exit.
extension GamedayScenario {
    func smokeStep(_ check: DrillScript.SmokeCheck, number: Int, toolbox: ScenarioToolbox) -> RunbookStep {
        let id = StepID("smoke.\(number)")
        let check = check.resolved(for: toolbox.manifest)
        switch check.kind {
        case .sql(let query, let expect):
            let invocation = toolbox.postgres.query(query)
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): \(query)", dependsOn: [finalStepID],
                inputs: ["sql": query, "expect": expect ?? ""], invocations: [invocation]
            ) { context in
                let result = try await context.runner.runChecked(invocation)
                let value = Postgres.parseValue(result.output) ?? ""
                if let expect, value != expect {
                    throw GamedayError.smokeCheckFailed(
                        name: check.name, detail: "\(query) returned '\(value)', expected '\(expect)'")
                }
                return ["check": check.name, "value": value, "expected": expect ?? "(any)"]
            }
        case .http(let url, let expectStatus):
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): GET \(url)", dependsOn: [finalStepID],
                inputs: ["url": url, "expectStatus": String(expectStatus)], commands: ["GET \(url)"]
            ) { context in
                guard let parsed = URL(string: url) else {
                    throw GamedayError.smokeCheckFailed(name: check.name, detail: "\(url) is not a URL")
                }
                let response = try await ReadinessProbe.urlSessionFetch(parsed, .seconds(10))
                let body = String(decoding: response.body.prefix(200), as: UTF8.self)
                guard response.statusCode == expectStatus else {
                    throw GamedayError.smokeCheckFailed(
                        name: check.name,
                        detail: "GET \(url) answered \(response.statusCode) (\(body)), expected \(expectStatus)")
                }
                return ["check": check.name, "status": String(response.statusCode), "body": body]
            }
        case .command(let argv):
            return commandStep(
                check, id: id, CommandInvocation(argv[0], Array(argv.dropFirst()), secrets: toolbox.secrets))
        case .kubectl(let arguments):
            return commandStep(check, id: id, toolbox.kubectl.command(arguments).adding(secrets: toolbox.secrets))
        }
    }

    /// A check that runs one program, which must exit 0.
    private func commandStep(_ check: DrillScript.SmokeCheck, id: StepID, _ invocation: CommandInvocation)
        -> RunbookStep
    {
        RunbookStep(
            id: id, title: "Smoke check \(check.name): \(invocation.redactedCommandLine)", dependsOn: [finalStepID],
            inputs: ["command": invocation.redactedCommandLine], invocations: [invocation]
        ) { context in
            let result = try await context.runner.runChecked(invocation)
            return ["check": check.name, "exit": "0", "output": String(result.output.suffix(200))]
        }
    }
}
