import Foundation

/// `kubectl version -o json`, reduced to what drctl reports.
public struct KubernetesVersionInfo: Sendable, Hashable, Decodable {
    public var client: String
    public var server: String?

    public init(client: String, server: String?) {
        self.client = client
        self.server = server
    }

    private enum CodingKeys: String, CodingKey { case clientVersion, serverVersion }
    private struct Version: Decodable { var gitVersion: String }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        client = try container.decode(Version.self, forKey: .clientVersion).gitVersion
        server = try container.decodeIfPresent(Version.self, forKey: .serverVersion)?.gitVersion
    }
}

/// The `status.conditions[]` entry shared by deployments and pods.
public struct KubernetesCondition: Sendable, Hashable, Decodable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?

    public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }

    public var isTrue: Bool { status == "True" }
}

/// A Deployment's desired and observed replica counts. Kubernetes omits zero counts; they read as 0 here.
public struct KubernetesDeployment: Sendable, Hashable, Decodable {
    public var name: String
    public var namespace: String?
    /// `.spec.replicas`; Kubernetes' default when unset is 1.
    public var replicas: Int
    public var readyReplicas: Int
    public var updatedReplicas: Int
    public var availableReplicas: Int
    public var conditions: [KubernetesCondition]
    /// The pod template's containers (`.spec.template.spec.containers`), in order.
    public var containers: [KubernetesContainer]

    public init(
        name: String,
        namespace: String? = nil,
        replicas: Int,
        readyReplicas: Int = 0,
        updatedReplicas: Int = 0,
        availableReplicas: Int = 0,
        conditions: [KubernetesCondition] = [],
        containers: [KubernetesContainer] = []
    ) {
        self.name = name
        self.namespace = namespace
        self.replicas = replicas
        self.readyReplicas = readyReplicas
        self.updatedReplicas = updatedReplicas
        self.availableReplicas = availableReplicas
        self.conditions = conditions
        self.containers = containers
    }

    /// Every desired replica is updated, ready and available (a deployment scaled to 0 counts as rolled out).
    public var isFullyAvailable: Bool {
        readyReplicas >= replicas && updatedReplicas >= replicas && availableReplicas >= replicas
    }

    public func condition(_ type: String) -> KubernetesCondition? { conditions.first { $0.type == type } }

    private enum CodingKeys: String, CodingKey { case metadata, spec, status }
    private struct Spec: Decodable {
        struct Template: Decodable { var spec: PodSpec? }
        struct PodSpec: Decodable { var containers: [KubernetesContainer]? }
        var replicas: Int?
        var template: Template?
    }
    private struct Status: Decodable {
        var readyReplicas: Int?
        var updatedReplicas: Int?
        var availableReplicas: Int?
        var conditions: [KubernetesCondition]?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let metadata = try container.decode(KubernetesMetadata.self, forKey: .metadata)
        let spec = try container.decodeIfPresent(Spec.self, forKey: .spec)
        let status = try container.decodeIfPresent(Status.self, forKey: .status)
        self.init(
            name: metadata.name,
            namespace: metadata.namespace,
            replicas: spec?.replicas ?? 1,
            readyReplicas: status?.readyReplicas ?? 0,
            updatedReplicas: status?.updatedReplicas ?? 0,
            availableReplicas: status?.availableReplicas ?? 0,
            conditions: status?.conditions ?? [],
            containers: spec?.template?.spec?.containers ?? []
        )
    }
}

/// A container of a pod template: its name and image.
public struct KubernetesContainer: Sendable, Hashable, Decodable {
    public var name: String
    public var image: String

    public init(name: String, image: String) {
        self.name = name
        self.image = image
    }
}

/// A Pod's phase and readiness.
public struct KubernetesPod: Sendable, Hashable, Decodable {
    public var name: String
    public var namespace: String?
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    public var phase: String
    /// The pod's `Ready` condition is `True`.
    public var isReady: Bool
    public var labels: [String: String]

    public init(name: String, namespace: String? = nil, phase: String, isReady: Bool, labels: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        self.phase = phase
        self.isReady = isReady
        self.labels = labels
    }

    private enum CodingKeys: String, CodingKey { case metadata, status }
    private struct Status: Decodable {
        var phase: String?
        var conditions: [KubernetesCondition]?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let metadata = try container.decode(KubernetesMetadata.self, forKey: .metadata)
        let status = try container.decodeIfPresent(Status.self, forKey: .status)
        self.init(
            name: metadata.name,
            namespace: metadata.namespace,
            phase: status?.phase ?? "Unknown",
            isReady: status?.conditions?.first { $0.type == "Ready" }?.isTrue ?? false,
            labels: metadata.labels ?? [:]
        )
    }
}

struct KubernetesMetadata: Decodable {
    var name: String
    var namespace: String?
    var labels: [String: String]?
}

struct KubernetesNamespace: Decodable {
    var name: String

    private enum CodingKeys: String, CodingKey { case metadata }

    init(from decoder: any Decoder) throws {
        name = try decoder.container(keyedBy: CodingKeys.self).decode(KubernetesMetadata.self, forKey: .metadata).name
    }
}

struct KubernetesList<Item: Decodable>: Decodable {
    var items: [Item]

    private enum CodingKeys: String, CodingKey { case items }

    init(from decoder: any Decoder) throws {
        // An empty list may come back with `"items": null` from some servers.
        items = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}
