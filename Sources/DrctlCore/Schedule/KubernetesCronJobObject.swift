import Foundation

/// The part of a Kubernetes `batch/v1` CronJob drctl writes; its job template is a `KubernetesJobObject.JobSpec`.
public struct KubernetesCronJobObject: Sendable, Hashable, Codable {
    public var apiVersion = "batch/v1"
    public var kind = "CronJob"
    public var metadata: KubernetesJobObject.ObjectMeta
    public var spec: Spec

    public struct Spec: Sendable, Hashable, Codable {
        public var schedule: String
        public var timeZone: String
        public var concurrencyPolicy: String
        public var startingDeadlineSeconds: Int
        public var successfulJobsHistoryLimit: Int
        public var failedJobsHistoryLimit: Int
        public var jobTemplate: JobTemplate
    }

    public struct JobTemplate: Sendable, Hashable, Codable {
        public var spec: KubernetesJobObject.JobSpec
    }
}

/// A Kubernetes `v1` ConfigMap: string data under keys.
public struct KubernetesConfigMapObject: Sendable, Hashable, Codable {
    public var apiVersion = "v1"
    public var kind = "ConfigMap"
    public var metadata: KubernetesJobObject.ObjectMeta
    public var data: [String: String]
}
