import Foundation
import Yams

/// A game-day drill as its YAML file says it (`manifests/gameday-cluster-loss.yaml`): which scenario, what the team
/// expects to happen, when the incident is declared, how success is checked, and which faults are injected so the
/// drill rehearses what goes wrong, not only the happy path.
public struct DrillScript: Sendable, Hashable, Codable {
    public enum Scenario: String, Sendable, Hashable, Codable, CaseIterable {
        case clusterLoss = "cluster-loss"
        case dbRestore = "db-restore"
        case rowRecovery = "row-recovery"
        case appRollback = "app-rollback"

        /// Whether the drill restores data from a backup (an app rollback restores none): only such drills count as
        /// "Restore tested quarterly" and have an RPO.
        public var restoresData: Bool { self != .appRollback }
    }

    public var scenario: Scenario
    /// What the team expects; `{rto}` and `{rpo}` stand for the target manifest's objectives
    /// (`hypothesis(objectives:)`), so the text cannot name other numbers than the report's table.
    public var hypothesis: String
    /// When the incident is declared; RPO achieved = incident time − time of the restored backup. nil: the run's
    /// start (row-recovery: the time the run was built, just before its incident deletes the rows).
    public var incidentTime: Date?
    public var smokeChecks: [SmokeCheck]
    public var faults: Faults
    /// row-recovery: the rows the drill deletes at the incident and then recovers.
    public var rows: Rows?
    /// app-rollback: the release the drill deploys before rolling back.
    public var badRelease: BadRelease

    public init(
        scenario: Scenario, hypothesis: String, incidentTime: Date? = nil, smokeChecks: [SmokeCheck] = [],
        faults: Faults = Faults(), rows: Rows? = nil, badRelease: BadRelease = BadRelease()
    ) {
        self.scenario = scenario
        self.hypothesis = hypothesis
        self.incidentTime = incidentTime
        self.smokeChecks = smokeChecks
        self.faults = faults
        self.rows = rows
        self.badRelease = badRelease
    }

    /// The hypothesis with `{rto}` and `{rpo}` replaced by the target's objectives (`15m`, `1d`).
    public func hypothesis(objectives: Manifest.Objectives) -> String {
        hypothesis.replacingOccurrences(of: "{rto}", with: objectives.rto.manifestText)
            .replacingOccurrences(of: "{rpo}", with: objectives.rpo.manifestText)
    }

    /// The rows a row-recovery drill deletes (its incident) and recovers: `key` in `ids` (compared as text).
    public struct Rows: Sendable, Hashable, Codable {
        public var table: String
        public var key: String
        public var ids: [String]

        public init(table: String, key: String, ids: [String]) {
            self.table = table
            self.key = key
            self.ids = ids
        }
    }

    /// The bad release of an app-rollback drill: `helm upgrade --reuse-values --set …` with these values, waited for
    /// at most `timeout`. It must never become ready (that is what makes it bad); the default breaks the image tag.
    public struct BadRelease: Sendable, Hashable, Codable {
        public static let neverReadyTag = "drctl-gameday-never-ready"
        public var set: [String]
        public var timeout: Duration

        public init(set: [String] = ["image.tag=\(Self.neverReadyTag)"], timeout: Duration = .seconds(30)) {
            self.set = set
            self.timeout = timeout
        }
    }

    /// One check that must hold after the recovery.
    public struct SmokeCheck: Sendable, Hashable, Codable {
        public enum Kind: Sendable, Hashable, Codable {
            /// A query on the recovered database; its single value must equal `expect` when given.
            case sql(query: String, expect: String?)
            /// A GET whose status must be `expectStatus`.
            case http(url: String, expectStatus: Int)
            /// An argv array that must exit 0.
            case command([String])
            /// kubectl arguments run against the target manifest's cluster (its kubeconfig, context and namespace
            /// come first), which must exit 0: `[get, deployment, "{deployment}"]`.
            case kubectl([String])
        }

        /// What a drill file may write for the target manifest's values, so one drill runs against any target:
        /// `{readiness}` (readiness.url), `{deployment}` (releases.app.deployment), `{namespace}` (kube.namespace).
        static func placeholders(of manifest: Manifest) -> [String: String] {
            [
                "{readiness}": manifest.readiness.url, "{deployment}": manifest.releases.app.deployment,
                "{namespace}": manifest.kube.namespace,
            ]
        }

        /// The check with the placeholders replaced by `manifest`'s values.
        public func resolved(for manifest: Manifest) -> SmokeCheck {
            let values = Self.placeholders(of: manifest)
            func fill(_ text: String) -> String {
                values.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            }
            var check = self
            switch kind {
            case .sql: break
            case .http(let url, let status): check.kind = .http(url: fill(url), expectStatus: status)
            case .command(let argv): check.kind = .command(argv.map(fill))
            case .kubectl(let arguments): check.kind = .kubectl(arguments.map(fill))
            }
            return check
        }
        public var name: String
        public var kind: Kind

        public init(name: String, kind: Kind) {
            self.name = name
            self.kind = kind
        }
    }

    public struct Faults: Sendable, Hashable, Codable {
        /// Stop the run right after this step's effect, before it is journaled as completed (as a kill would),
        /// then resume it.
        public var killAfterStep: String?
        /// Put a corrupt backup, newer than every real one, in the off-site store: the fetch must skip it.
        public var corruptNewestBackup: Bool
        /// Point the app deployment at an image tag that does not exist right before the run waits for its
        /// rollout: the deployment never becomes ready, and the drill shows how the runbook copes with a failed
        /// rollout (cluster-loss and db-restore; an app-rollback drill's bad release already is one).
        public var deploymentNeverReady: Bool

        public init(killAfterStep: String? = nil, corruptNewestBackup: Bool = false, deploymentNeverReady: Bool = false)
        {
            self.killAfterStep = killAfterStep
            self.corruptNewestBackup = corruptNewestBackup
            self.deploymentNeverReady = deploymentNeverReady
        }

        public var descriptions: [String] {
            (killAfterStep.map { ["run killed after the effect of step \($0), then resumed"] } ?? [])
                + (corruptNewestBackup ? ["a corrupt backup newer than every real one in the off-site store"] : [])
                + (deploymentNeverReady
                    ? ["the app deployment never becomes ready (image tag that does not exist)"] : [])
        }
    }

    // MARK: - Loading

    /// The drill file when one is given (its scenario must be `scenario`), else a plain drill of `scenario`: no
    /// faults, no smoke checks beyond the scenario's own readiness check.
    public static func forRun(path: String?, scenario: String) throws(GamedayError) -> DrillScript {
        guard let chosen = Scenario(rawValue: scenario) else { throw .unknownScenario(scenario) }
        guard let path else {
            if chosen == .rowRecovery {
                throw .drillRequired(
                    scenario: scenario,
                    detail: "it names the rows the drill deletes at the incident (rows:)")
            }
            if chosen == .appRollback {
                return DrillScript(
                    scenario: chosen,
                    hypothesis: "A release that never becomes ready is rolled back to the last good revision "
                        + "within the {rto} RTO.")
            }
            return DrillScript(
                scenario: chosen,
                hypothesis: "The \(scenario) runbook recovers the target from the newest good backup within the {rto} "
                    + "RTO, losing at most the {rpo} RPO.")
        }
        let drill = try load(path: path)
        guard drill.scenario == chosen else {
            throw .drillInvalid(
                path: path, detail: "its scenario is \(drill.scenario.rawValue) but --scenario says \(scenario)")
        }
        return drill
    }

    public static func load(path: String) throws(GamedayError) -> DrillScript {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .drillUnreadable(path: path, reason: error.localizedDescription)
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(GamedayError) -> DrillScript {
        func invalid(_ detail: String) -> GamedayError { .drillInvalid(path: path, detail: detail) }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw invalid("the file is empty") }
            root = node
        } catch let error as GamedayError {
            throw error
        } catch {
            throw invalid("not valid YAML: \(error)")
        }
        let top = try mapping(
            root,
            allowing: ["scenario", "hypothesis", "incidentTime", "smokeChecks", "faults", "rows", "badRelease"],
            at: "the top level", invalid)
        guard let scenarioText = top["scenario"]?.string, let scenario = Scenario(rawValue: scenarioText) else {
            throw invalid("scenario must be one of \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let hypothesis = top["hypothesis"]?.string, !hypothesis.isEmpty else {
            throw invalid(
                "hypothesis is required: what the team expects (e.g. \"recovered within the {rto} RTO, losing at most "
                    + "the {rpo} RPO\"; {rto} and {rpo} are the target manifest's objectives)"
            )
        }
        if let literal = hypothesis.firstMatch(of: /\b\d+(\.\d+)?\s*(s|m|h|d|min|hours?|days?)\s+(RTO|RPO)\b/) {
            throw invalid(
                "the hypothesis names \"\(literal.output.0)\": write {\(literal.output.3.lowercased())} instead, so the "
                    + "number is the target manifest's objective (the report's table shows that one)")
        }
        var incident: Date?
        if let node = top["incidentTime"] {
            guard let text = node.string, let date = ISO8601DateFormatter().date(from: text) else {
                throw invalid("incidentTime must be an ISO 8601 UTC time like 2026-11-25T03:00:00Z")
            }
            incident = date
        }
        var checks: [SmokeCheck] = []
        if let list = top["smokeChecks"] {
            guard case .sequence(let sequence) = list else { throw invalid("smokeChecks must be a list") }
            for (index, item) in sequence.enumerated() {
                checks.append(try smokeCheck(item, index: index, invalid))
            }
        }
        var faults = Faults()
        if let node = top["faults"] {
            let map = try mapping(
                node, allowing: ["killAfterStep", "corruptNewestBackup", "deploymentNeverReady"], at: "faults", invalid)
            faults.killAfterStep = map["killAfterStep"]?.string
            if let flag = map["corruptNewestBackup"] {
                guard let value = flag.bool else { throw invalid("faults.corruptNewestBackup must be true or false") }
                faults.corruptNewestBackup = value
            }
            if let flag = map["deploymentNeverReady"] {
                guard let value = flag.bool else { throw invalid("faults.deploymentNeverReady must be true or false") }
                faults.deploymentNeverReady = value
            }
        }
        var rows: Rows?
        if let node = top["rows"] {
            guard scenario == .rowRecovery else { throw invalid("rows belongs to a row-recovery drill only") }
            rows = try Self.rows(node, invalid)
        }
        if scenario == .rowRecovery {
            guard rows != nil else {
                throw invalid(
                    "a row-recovery drill needs rows: { table: documents_header, key: id, ids: [\"DOC-000017\"] }, "
                        + "the rows it deletes at the incident and recovers")
            }
        }
        var badRelease = BadRelease()
        if let node = top["badRelease"] {
            guard scenario == .appRollback else { throw invalid("badRelease belongs to an app-rollback drill only") }
            badRelease = try Self.badRelease(node, invalid)
        }
        return DrillScript(
            scenario: scenario, hypothesis: hypothesis, incidentTime: incident, smokeChecks: checks, faults: faults,
            rows: rows, badRelease: badRelease)
    }

    private static func rows(_ node: Node, _ invalid: (String) -> GamedayError) throws(GamedayError) -> Rows {
        let map = try mapping(node, allowing: ["table", "key", "ids"], at: "rows", invalid)
        guard let table = map["table"]?.string, !table.isEmpty, let key = map["key"]?.string, !key.isEmpty else {
            throw invalid("rows needs table and key")
        }
        guard case .sequence(let items) = map["ids"], !items.isEmpty else {
            throw invalid("rows.ids must be a non-empty list of key values")
        }
        var ids: [String] = []
        for item in items {
            guard let text = item.string else { throw invalid("rows.ids holds a non-scalar") }
            ids.append(text)
        }
        return Rows(table: table, key: key, ids: ids)
    }

    private static func badRelease(_ node: Node, _ invalid: (String) -> GamedayError) throws(GamedayError)
        -> BadRelease
    {
        let map = try mapping(node, allowing: ["set", "timeout"], at: "badRelease", invalid)
        var release = BadRelease()
        if let list = map["set"] {
            guard case .sequence(let items) = list, !items.isEmpty else {
                throw invalid("badRelease.set must be a list of helm --set values like [\"image.tag=broken\"]")
            }
            var values: [String] = []
            for item in items {
                guard let text = item.string, text.contains("=") else {
                    throw invalid("badRelease.set entries are NAME=VALUE")
                }
                values.append(text)
            }
            release.set = values
        }
        if let text = map["timeout"]?.string {
            guard let timeout = Duration(manifestText: text) else {
                throw invalid("badRelease.timeout '\(text)' is not a duration; write e.g. 30s")
            }
            release.timeout = timeout
        }
        return release
    }

    private static func mapping(
        _ node: Node, allowing keys: Set<String>, at place: String, _ invalid: (String) -> GamedayError
    ) throws(GamedayError) -> [String: Node] {
        guard case .mapping(let mapping) = node else { throw invalid("\(place) must be a mapping") }
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw invalid("a key in \(place) is not a string") }
            guard keys.contains(name) else {
                throw invalid("unknown key '\(name)' in \(place); allowed: \(keys.sorted().joined(separator: ", "))")
            }
            guard result[name] == nil else { throw invalid("duplicate key '\(name)' in \(place)") }
            result[name] = value
        }
        return result
    }

    private static func smokeCheck(_ node: Node, index: Int, _ invalid: (String) -> GamedayError) throws(GamedayError)
        -> SmokeCheck
    {
        let place = "smokeChecks[\(index)]"
        let map = try mapping(
            node, allowing: ["name", "sql", "expect", "http", "expectStatus", "command", "kubectl"], at: place, invalid)
        let name = map["name"]?.string ?? "check \(index + 1)"
        let kinds = ["sql", "http", "command", "kubectl"].filter { map[$0] != nil }
        guard kinds.count == 1 else { throw invalid("\(place) needs exactly one of sql, http, command, kubectl") }
        if let sql = map["sql"]?.string {
            return SmokeCheck(name: name, kind: .sql(query: sql, expect: map["expect"]?.string))
        }
        if let url = map["http"]?.string {
            guard url.hasPrefix("{readiness}") || URL(string: url)?.scheme?.hasPrefix("http") == true else {
                throw invalid(
                    "\(place).http must be an http(s) URL, or {readiness} for the target manifest's readiness.url")
            }
            return SmokeCheck(name: name, kind: .http(url: url, expectStatus: map["expectStatus"]?.int ?? 200))
        }
        let key = map["kubectl"] != nil ? "kubectl" : "command"
        guard case .sequence(let items) = map[key], !items.isEmpty else {
            throw invalid(
                key == "kubectl"
                    ? "\(place).kubectl must be a list of kubectl arguments like [get, deployment, \"{deployment}\"]"
                    : "\(place).command must be an argv list like [kubectl, get, pods], never a shell string")
        }
        var argv: [String] = []
        for item in items {
            guard let text = item.string else { throw invalid("\(place).\(key) holds a non-string") }
            argv.append(text)
        }
        return SmokeCheck(name: name, kind: key == "kubectl" ? .kubectl(argv) : .command(argv))
    }
}
