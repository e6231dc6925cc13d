import Foundation

/// Builds `kubectl` invocations for one cluster target. Pure: nothing here starts a process.
public struct Kubectl: Sendable, Hashable {
    public var executable: String
    public var target: KubeTarget

    public init(executable: String = "kubectl", target: KubeTarget = KubeTarget()) {
        self.executable = executable
        self.target = target
    }

    public init(
        executable: String = "kubectl", context: String? = nil, namespace: String? = nil, kubeconfig: String? = nil
    ) {
        self.init(
            executable: executable, target: KubeTarget(context: context, namespace: namespace, kubeconfig: kubeconfig))
    }

    /// `kubectl version -o json`: client and server versions; fails when the cluster is unreachable.
    public func version() -> CommandInvocation {
        invocation(["version", "-o", "json"], namespaced: false)
    }

    /// `kubectl get namespaces -o json`.
    func getNamespaces() -> CommandInvocation {
        invocation(["get", "namespaces", "-o", "json"], namespaced: false)
    }

    /// `kubectl get namespace NAME -o name`: exits non-zero with `NotFound` when the namespace does not exist.
    public func getNamespace(_ name: String) -> CommandInvocation {
        invocation(["get", "namespace", name, "-o", "name"], namespaced: false)
    }

    /// `kubectl create namespace NAME`. Pair it with `getNamespace(_:)` to make creation idempotent.
    public func createNamespace(_ name: String) -> CommandInvocation {
        invocation(["create", "namespace", name], namespaced: false)
    }

    /// `kubectl get pods -o json`, optionally narrowed by a label selector (`app=valeo-erp`).
    public func getPods(selector: String? = nil) -> CommandInvocation {
        var arguments = ["get", "pods", "-o", "json"]
        if let selector { arguments += ["--selector", selector] }
        return invocation(arguments)
    }

    /// `kubectl get deployments -o json`.
    func getDeployments(selector: String? = nil) -> CommandInvocation {
        var arguments = ["get", "deployments", "-o", "json"]
        if let selector { arguments += ["--selector", selector] }
        return invocation(arguments)
    }

    /// `kubectl get deployment NAME -o json`.
    public func getDeployment(_ name: String) -> CommandInvocation {
        invocation(["get", "deployment", name, "-o", "json"])
    }

    /// `kubectl get deployment NAME -o jsonpath={.spec.replicas}`: the desired replica count, read with `parseReplicas`.
    public func deploymentReplicas(_ name: String) -> CommandInvocation {
        invocation(["get", "deployment", name, "-o", "jsonpath={.spec.replicas}"])
    }

    /// `kubectl scale deployment NAME --replicas N`.
    public func scaleDeployment(_ name: String, replicas: Int) -> CommandInvocation {
        invocation(["scale", "deployment", name, "--replicas", String(replicas)])
    }

    /// `kubectl set image deployment/NAME CONTAINER=IMAGE`: starts a rollout to that image.
    public func setImage(deployment: String, container: String, image: String) -> CommandInvocation {
        invocation(["set", "image", "deployment/\(deployment)", "\(container)=\(image)"])
    }

    /// `kubectl rollout status deployment/NAME --timeout 300s`: waits until the rollout finished or fails.
    public func rolloutStatus(deployment: String, timeout: Duration) -> CommandInvocation {
        invocation(["rollout", "status", "deployment/\(deployment)", "--timeout", GoDuration.format(timeout)])
    }

    /// `kubectl wait --for=condition=Available deployment/NAME --timeout 300s` (or `--for=delete`).
    public func wait(for condition: KubectlWaitCondition, resource: String, timeout: Duration) -> CommandInvocation {
        invocation(["wait", "--for=\(condition.flagValue)", resource, "--timeout", GoDuration.format(timeout)])
    }

    /// `kubectl apply --server-side -f FILE`. `validate: false` adds `--validate=false`, for API servers that
    /// serve no OpenAPI document (client-side validation downloads it first).
    public func apply(file: String, serverSide: Bool = true, validate: Bool = true) -> CommandInvocation {
        var arguments = ["apply"]
        if serverSide { arguments.append("--server-side") }
        if !validate { arguments.append("--validate=false") }
        return invocation(arguments + ["-f", file])
    }

    /// `kubectl create -f -`: the object comes on stdin (JSON), never in argv.
    public func create(json: Data) -> CommandInvocation {
        var invocation = invocation(["create", "-f", "-"])
        invocation.standardInput = .bytes(json)
        return invocation
    }

    /// `kubectl apply --server-side --force-conflicts -f -`: the object (a Secret) comes on stdin, never in argv;
    /// server-side, so no `last-applied-configuration` annotation repeats its data.
    public func applyServerSide(json: Data, secrets: [String]) -> CommandInvocation {
        var invocation = invocation(["apply", "--server-side", "--force-conflicts", "-f", "-"])
        invocation.standardInput = .bytes(json)
        return invocation.adding(secrets: secrets)
    }

    /// `kubectl get KIND NAME -o json` (`job`, `secret`, …): exits non-zero with `NotFound` when it is not there.
    public func get(_ kind: String, _ name: String) -> CommandInvocation {
        invocation(["get", kind, name, "-o", "json"])
    }

    /// `kubectl delete KIND NAME --ignore-not-found --wait=true` (for a Job with `--cascade=foreground`, so its
    /// pods go first).
    public func delete(_ kind: String, _ name: String) -> CommandInvocation {
        var arguments = ["delete", kind, name, "--ignore-not-found", "--wait=true"]
        if kind == "job" { arguments.append("--cascade=foreground") }
        return invocation(arguments)
    }

    /// `kubectl create role NAME --verb=… --resource=…`: the same verbs on every resource named.
    public func createRole(_ name: String, verbs: [String], resources: [String]) -> CommandInvocation {
        invocation([
            "create", "role", name, "--verb=" + verbs.joined(separator: ","),
            "--resource=" + resources.joined(separator: ","),
        ])
    }

    /// `kubectl create rolebinding NAME --role=ROLE --user=USER`.
    public func createRoleBinding(_ name: String, role: String, user: String) -> CommandInvocation {
        invocation(["create", "rolebinding", name, "--role=" + role, "--user=" + user])
    }

    /// `kubectl get cronjob NAME -o json`.
    public func getCronJob(_ name: String) -> CommandInvocation {
        invocation(["get", "cronjob", name, "-o", "json"])
    }

    /// `kubectl logs job/NAME`: the log of the Job's pod so far; `follow`: `kubectl logs -f job/NAME`, which
    /// prints it and then each new line until the pod ends or the connection drops.
    public func jobLogs(_ name: String, follow: Bool = false) -> CommandInvocation {
        invocation(["logs"] + (follow ? ["-f"] : []) + ["job/\(name)"])
    }

    /// `kubectl logs POD`: one pod's log (each pod of an Indexed Job has its own).
    public func podLogs(_ pod: String) -> CommandInvocation {
        invocation(["logs", pod])
    }

    /// `kubectl --namespace NS port-forward svc/NAME :PORT`: listens on a free local port (printed as
    /// `Forwarding from 127.0.0.1:NNNNN -> PORT`) and forwards it to a running pod of the Service, until stopped.
    public func portForward(service: String, namespace: String, remotePort: Int) -> CommandInvocation {
        var target = target
        target.namespace = namespace
        return CommandInvocation(
            executable, target.kubectlFlags() + ["port-forward", "svc/\(service)", ":\(remotePort)"])
    }

    /// Any kubectl command against the target (a drill's `kubectl:` smoke check): its flags, then `arguments`.
    func command(_ arguments: [String]) -> CommandInvocation { invocation(arguments) }

    private func invocation(_ arguments: [String], namespaced: Bool = true) -> CommandInvocation {
        CommandInvocation(executable, target.kubectlFlags(namespaced: namespaced) + arguments)
            .declaring(Self.objectAbsent)
    }

    /// The object asked for does not exist (`Error from server (NotFound): namespaces "x" not found`), as opposed
    /// to any other failure such as an unreachable cluster.
    static let objectAbsent = ExitMeanings.when(standardErrorHolds: ["(NotFound)"], .absent)
}

/// What `kubectl wait` waits for.
public enum KubectlWaitCondition: Sendable, Hashable {
    /// `--for=condition=NAME` (`Available`, `Ready`, …).
    case condition(String)
    /// `--for=delete`.
    case delete

    var flagValue: String {
        switch self {
        case .condition(let name): return "condition=\(name)"
        case .delete: return "delete"
        }
    }
}

// MARK: - Parsing

extension Kubectl {
    /// Reads `kubectl version -o json`. `server` is `nil` when kubectl printed only its own version.
    public static func parseVersion(_ data: Data) throws(ToolOutputError) -> KubernetesVersionInfo {
        try ToolOutputError.decodeJSON(KubernetesVersionInfo.self, from: data, tool: "kubectl", what: "version JSON")
    }

    /// Reads `kubectl get deployment NAME -o json`.
    static func parseDeployment(_ data: Data) throws(ToolOutputError) -> KubernetesDeployment {
        try ToolOutputError.decodeJSON(KubernetesDeployment.self, from: data, tool: "kubectl", what: "deployment JSON")
    }

    /// Reads `kubectl get deployments -o json`.
    static func parseDeployments(_ data: Data) throws(ToolOutputError) -> [KubernetesDeployment] {
        try ToolOutputError.decodeJSON(
            KubernetesList<KubernetesDeployment>.self, from: data, tool: "kubectl", what: "deployment list JSON"
        ).items
    }

    /// Reads `kubectl get pods -o json`.
    static func parsePods(_ data: Data) throws(ToolOutputError) -> [KubernetesPod] {
        try ToolOutputError.decodeJSON(
            KubernetesList<KubernetesPod>.self, from: data, tool: "kubectl", what: "pod list JSON"
        ).items
    }

    /// Reads `kubectl get namespaces -o json` into namespace names.
    static func parseNamespaces(_ data: Data) throws(ToolOutputError) -> [String] {
        try ToolOutputError.decodeJSON(
            KubernetesList<KubernetesNamespace>.self, from: data, tool: "kubectl", what: "namespace list JSON"
        ).items.map(\.name)
    }

    /// The object asked for does not exist (`objectAbsent`). The probe half of "create the namespace if missing".
    public static func isNotFound(_ result: CommandResult) -> Bool {
        result.meaning == .absent
    }

    /// Reads the output of `deploymentReplicas(_:)`; an unset `.spec.replicas` (empty output) means Kubernetes' default, 1.
    public static func parseReplicas(_ output: String) throws(ToolOutputError) -> Int {
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return 1 }
        guard let replicas = Int(text), replicas >= 0 else {
            throw .unparseable(tool: "kubectl", what: "replica count", detail: "not a whole number", excerpt: text)
        }
        return replicas
    }
}
