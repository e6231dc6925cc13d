import Foundation

/// One data-plane Job as drctl asks Kubernetes for it: a `batch/v1` Job whose single container runs
/// `drctl agent …` from drctl's image. Encoded to JSON and sent to `kubectl create -f -` on stdin; the
/// password is only ever a `secretKeyRef`, never a value.
public struct DataPlaneJob: Sendable, Hashable {
    /// `drctl-<run id>-<step>`, the same on every attempt and resume of the step (see `JobRunner.jobName`).
    public var name: String
    public var image: String
    /// The agent's arguments after the entrypoint (`agent backup-create`).
    public var arguments: [String]
    /// Plain variables (no secrets): the manifest the agent works from.
    public var environment: [String: String]
    /// `DB_PASSWORD` comes from this Secret key; nil for a Job that never talks to the database (the archive sync).
    public var passwordSecret: Manifest.KubernetesSecretKey?
    /// Secrets whose keys become the environment (`envFrom`): the S3/Azure credentials.
    public var environmentSecrets: [String]
    /// The backup folder: a claim, or nil for an emptyDir, mounted at `Manifest.jobBackupFolder`.
    public var backupClaim: String?
    public var serviceAccount: String?
    public var labels: [String: String]
    /// An Indexed Job (`completionMode: Indexed`) of this many completions and parallelism, each index failing on
    /// its own (`backoffLimitPerIndex: 0`); nil: one pod.
    public var indexed: IndexedCompletion?
    /// The emptyDir's `sizeLimit` in bytes when the backup folder is one (no `backupClaim`): a custom-format
    /// restore's download; nil: no limit.
    public var scratchLimit: Int64?
    /// A claim mounted at a path of its own instead of the backup folder (the archive sync's
    /// `archive.volumeClaim` at `archive.destination`).
    public var claimMount: ClaimMount?

    public struct IndexedCompletion: Sendable, Hashable {
        public var completions: Int
        public var parallelism: Int
        public init(completions: Int, parallelism: Int) {
            self.completions = completions
            self.parallelism = parallelism
        }
    }

    public struct ClaimMount: Sendable, Hashable {
        public var claim: String
        public var path: String
        public init(claim: String, path: String) {
            self.claim = claim
            self.path = path
        }
    }

    public init(
        name: String, image: String, arguments: [String], environment: [String: String] = [:],
        passwordSecret: Manifest.KubernetesSecretKey, environmentSecrets: [String] = [], backupClaim: String? = nil,
        serviceAccount: String? = nil, labels: [String: String] = [:]
    ) {
        self.name = name
        self.image = image
        self.arguments = arguments
        self.environment = environment
        self.passwordSecret = passwordSecret
        self.environmentSecrets = environmentSecrets
        self.backupClaim = backupClaim
        self.serviceAccount = serviceAccount
        self.labels = labels
    }

    /// `drctl agent backup-create …` as a plan prints it: the image's entrypoint and the arguments.
    public var commandLine: String {
        (["drctl"] + arguments).map(ShellQuoting.quote).joined(separator: " ")
    }

    /// The Job object (`kubectl create -f -` reads it).
    public func object(namespace: String) -> KubernetesJobObject {
        var env = environment.keys.sorted().map { KubernetesJobObject.EnvVar(name: $0, value: environment[$0]) }
        if let passwordSecret {
            env.append(
                KubernetesJobObject.EnvVar(
                    name: Manifest.jobPasswordVariable,
                    valueFrom: .init(secretKeyRef: .init(name: passwordSecret.name, key: passwordSecret.key))))
        }
        var volume = KubernetesJobObject.Volume(
            name: "backups",
            persistentVolumeClaim: backupClaim.map { .init(claimName: $0) },
            emptyDir: backupClaim == nil ? .init(sizeLimit: scratchLimit.map(String.init)) : nil)
        var mount = KubernetesJobObject.VolumeMount(name: "backups", mountPath: Manifest.jobBackupFolder)
        if let claimMount {
            volume = .init(name: "data", persistentVolumeClaim: .init(claimName: claimMount.claim))
            mount = .init(name: "data", mountPath: claimMount.path)
        }
        let container = KubernetesJobObject.Container(
            name: "agent", image: image, args: arguments, env: env,
            envFrom: environmentSecrets.isEmpty ? nil : environmentSecrets.map { .init(secretRef: .init(name: $0)) },
            volumeMounts: [mount],
            terminationMessagePath: AgentVerdict.terminationMessagePath,
            terminationMessagePolicy: "FallbackToLogsOnError")
        return KubernetesJobObject(
            metadata: .init(name: name, namespace: namespace, labels: labels),
            spec: .init(
                // Indexed: each index fails on its own (backoffLimitPerIndex 0), so one failing shard neither
                // stops nor kills the others; backoffLimit then only has to exceed what the indexes can use.
                backoffLimit: indexed.map(\.completions) ?? 0,
                completions: indexed?.completions, parallelism: indexed?.parallelism,
                completionMode: indexed == nil ? nil : "Indexed", backoffLimitPerIndex: indexed == nil ? nil : 0,
                template: .init(
                    metadata: .init(labels: labels),
                    spec: .init(
                        restartPolicy: "Never", serviceAccountName: serviceAccount, containers: [container],
                        volumes: [volume]))))
    }

    /// The object's JSON, keys sorted: the same Job is the same bytes.
    public func json(namespace: String) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(object(namespace: namespace))
    }
}

/// The part of a Kubernetes `batch/v1` Job drctl writes; a CronJob's job template (KubernetesCronJobObject) too.
public struct KubernetesJobObject: Sendable, Hashable, Codable {
    public var apiVersion = "batch/v1"
    public var kind = "Job"
    public var metadata: ObjectMeta
    public var spec: JobSpec

    public struct ObjectMeta: Sendable, Hashable, Codable {
        public var name: String?
        public var namespace: String?
        public var labels: [String: String]?
    }

    public struct JobSpec: Sendable, Hashable, Codable {
        public var backoffLimit: Int
        public var completions: Int?
        public var parallelism: Int?
        public var completionMode: String?
        public var backoffLimitPerIndex: Int?
        public var template: PodTemplate
    }

    public struct PodTemplate: Sendable, Hashable, Codable {
        public var metadata: ObjectMeta
        public var spec: PodSpec
    }

    public struct PodSpec: Sendable, Hashable, Codable {
        public var restartPolicy: String
        public var serviceAccountName: String?
        public var containers: [Container]
        public var volumes: [Volume]
    }

    public struct Container: Sendable, Hashable, Codable {
        public var name: String
        public var image: String
        /// The entrypoint, replacing the image's (a CronJob's `drctl backup nightly`).
        public var command: [String]?
        /// Arguments to the image's entrypoint (a Job's `agent …`).
        public var args: [String]?
        public var env: [EnvVar]
        public var envFrom: [EnvFromSource]?
        public var volumeMounts: [VolumeMount]
        public var terminationMessagePath: String?
        public var terminationMessagePolicy: String?
    }

    public struct EnvVar: Sendable, Hashable, Codable {
        public var name: String
        public var value: String?
        public var valueFrom: EnvVarSource?

        public init(name: String, value: String? = nil, valueFrom: EnvVarSource? = nil) {
            self.name = name
            self.value = value
            self.valueFrom = valueFrom
        }
    }

    public struct EnvVarSource: Sendable, Hashable, Codable {
        public var secretKeyRef: SecretKeySelector
    }

    public struct SecretKeySelector: Sendable, Hashable, Codable {
        public var name: String
        public var key: String
    }

    public struct EnvFromSource: Sendable, Hashable, Codable {
        public var secretRef: SecretReference
    }

    public struct SecretReference: Sendable, Hashable, Codable {
        public var name: String
    }

    public struct Volume: Sendable, Hashable, Codable {
        public var name: String
        public var persistentVolumeClaim: ClaimSource?
        public var emptyDir: EmptyDir?
        public var configMap: ConfigMapSource?
    }

    public struct ConfigMapSource: Sendable, Hashable, Codable {
        public var name: String
    }

    public struct ClaimSource: Sendable, Hashable, Codable {
        public var claimName: String
    }

    public struct EmptyDir: Sendable, Hashable, Codable {
        /// At most this much (a quantity: bytes, `10Gi`); the kubelet evicts a pod that writes more.
        public var sizeLimit: String?
        public init(sizeLimit: String? = nil) { self.sizeLimit = sizeLimit }
    }

    public struct VolumeMount: Sendable, Hashable, Codable {
        public var name: String
        public var mountPath: String
        public var readOnly: Bool?
    }
}

/// The Secret drctl creates for a Job when the manifest names none: `DB_PASSWORD` and the off-site stores'
/// credentials drctl itself has. Sent to kubectl on stdin, deleted with the Job.
public struct KubernetesSecretObject: Sendable, Hashable, Codable {
    public var apiVersion = "v1"
    public var kind = "Secret"
    public var metadata: KubernetesJobObject.ObjectMeta
    public var type = "Opaque"
    /// Values base64-encoded, as the API stores them.
    public var data: [String: String]

    public init(name: String, namespace: String, labels: [String: String], values: [String: String]) {
        metadata = .init(name: name, namespace: namespace, labels: labels)
        data = values.mapValues { Data($0.utf8).base64EncodedString() }
    }
}
