import Foundation

/// One row of `helm history RELEASE -o json`.
public struct HelmRevision: Sendable, Hashable, Codable {
    public var revision: Int
    /// `nil` when helm printed no time (a zero time).
    public var updated: Date?
    /// `deployed`, `superseded`, `failed`, `pending-upgrade`, `pending-rollback`, …
    public var status: String
    /// Chart name and version as one string (`valeo-erp-1.4.2`).
    public var chart: String
    public var appVersion: String
    public var description: String

    public init(
        revision: Int,
        updated: Date?,
        status: String,
        chart: String,
        appVersion: String = "",
        description: String = ""
    ) {
        self.revision = revision
        self.updated = updated
        self.status = status
        self.chart = chart
        self.appVersion = appVersion
        self.description = description
    }

    enum CodingKeys: String, CodingKey {
        case revision, updated, status, chart, description
        case appVersion = "app_version"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        revision = try container.decode(Int.self, forKey: .revision)
        updated = try ToolTimestamp.decode(container, forKey: .updated)
        status = try container.decode(String.self, forKey: .status)
        chart = try container.decodeIfPresent(String.self, forKey: .chart) ?? ""
        appVersion = try container.decodeIfPresent(String.self, forKey: .appVersion) ?? ""
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
    }
}

/// `helm status RELEASE -o json`, reduced to what drctl journals.
public struct HelmReleaseStatus: Sendable, Hashable {
    public var name: String
    public var namespace: String
    /// The release revision (`version` in helm's JSON).
    public var revision: Int
    /// `info.status`: `deployed`, `failed`, `pending-install`, …
    public var status: String
    public var description: String
    public var lastDeployed: Date?
    public var chartName: String?
    public var chartVersion: String?
    public var appVersion: String?

    public init(
        name: String,
        namespace: String,
        revision: Int,
        status: String,
        description: String = "",
        lastDeployed: Date? = nil,
        chartName: String? = nil,
        chartVersion: String? = nil,
        appVersion: String? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.revision = revision
        self.status = status
        self.description = description
        self.lastDeployed = lastDeployed
        self.chartName = chartName
        self.chartVersion = chartVersion
        self.appVersion = appVersion
    }
}

extension HelmReleaseStatus: Decodable {
    private enum CodingKeys: String, CodingKey { case name, namespace, version, info, chart }
    private enum InfoKeys: String, CodingKey {
        case status, description
        case lastDeployed = "last_deployed"
    }
    private struct Chart: Decodable {
        struct Metadata: Decodable {
            var name: String?
            var version: String?
            var appVersion: String?
        }
        var metadata: Metadata?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let info = try container.nestedContainer(keyedBy: InfoKeys.self, forKey: .info)
        let metadata = try container.decodeIfPresent(Chart.self, forKey: .chart)?.metadata
        self.init(
            name: try container.decode(String.self, forKey: .name),
            namespace: try container.decodeIfPresent(String.self, forKey: .namespace) ?? "",
            revision: try container.decode(Int.self, forKey: .version),
            status: try info.decode(String.self, forKey: .status),
            description: try info.decodeIfPresent(String.self, forKey: .description) ?? "",
            lastDeployed: try ToolTimestamp.decode(info, forKey: .lastDeployed),
            chartName: metadata?.name,
            chartVersion: metadata?.version,
            appVersion: metadata?.appVersion
        )
    }
}

/// One row of `helm list -o json`. helm prints the revision as a string and the time in Go's `time.String()` form.
public struct HelmListedRelease: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var revision: Int
    public var updated: Date?
    public var status: String
    public var chart: String
    public var appVersion: String

    public init(
        name: String,
        namespace: String,
        revision: Int,
        updated: Date?,
        status: String,
        chart: String,
        appVersion: String = ""
    ) {
        self.name = name
        self.namespace = namespace
        self.revision = revision
        self.updated = updated
        self.status = status
        self.chart = chart
        self.appVersion = appVersion
    }
}

extension HelmListedRelease: Decodable {
    private enum CodingKeys: String, CodingKey {
        case name, namespace, revision, updated, status, chart
        case appVersion = "app_version"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let revision: Int
        if let number = try? container.decode(Int.self, forKey: .revision) {
            revision = number
        } else {
            let text = try container.decode(String.self, forKey: .revision)
            guard let number = Int(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .revision, in: container, debugDescription: "revision '\(text)' is not a number")
            }
            revision = number
        }
        self.init(
            name: try container.decode(String.self, forKey: .name),
            namespace: try container.decodeIfPresent(String.self, forKey: .namespace) ?? "",
            revision: revision,
            updated: try ToolTimestamp.decode(container, forKey: .updated),
            status: try container.decode(String.self, forKey: .status),
            chart: try container.decodeIfPresent(String.self, forKey: .chart) ?? "",
            appVersion: try container.decodeIfPresent(String.self, forKey: .appVersion) ?? ""
        )
    }
}

extension Helm {
    /// Reads `helm history -o json`, oldest revision first.
    public static func parseHistory(_ data: Data) throws(ToolOutputError) -> [HelmRevision] {
        try ToolOutputError.decodeJSON([HelmRevision].self, from: data, tool: "helm", what: "history JSON")
            .sorted { $0.revision < $1.revision }
    }

    /// Reads `helm status -o json`.
    public static func parseStatus(_ data: Data) throws(ToolOutputError) -> HelmReleaseStatus {
        try ToolOutputError.decodeJSON(HelmReleaseStatus.self, from: data, tool: "helm", what: "status JSON")
    }

    /// `helm status` / `helm history` failed because the release does not exist (`Error: release: not found`),
    /// as opposed to an unreachable cluster: on resume, "not installed yet" rather than "cannot tell".
    public static func isReleaseNotFound(_ result: CommandResult) -> Bool {
        result.meaning == .absent
    }

    /// Reads `helm list -o json`.
    public static func parseList(_ data: Data) throws(ToolOutputError) -> [HelmListedRelease] {
        try ToolOutputError.decodeJSON([HelmListedRelease].self, from: data, tool: "helm", what: "release list JSON")
    }
}
