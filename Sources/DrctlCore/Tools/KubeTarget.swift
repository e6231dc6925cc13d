/// Which cluster and namespace a `kubectl` or `helm` invocation talks to: the one place the target flags are built.
public struct KubeTarget: Sendable, Hashable, Codable {
    /// A kubeconfig context; `nil` means the kubeconfig's current context.
    public var context: String?
    public var namespace: String?
    /// A kubeconfig path; `nil` means `KUBECONFIG` or `~/.kube/config`, as the tools themselves decide.
    public var kubeconfig: String?

    public init(context: String? = nil, namespace: String? = nil, kubeconfig: String? = nil) {
        self.context = context
        self.namespace = namespace
        self.kubeconfig = kubeconfig
    }

    /// `--kubeconfig`, `--context`, `--namespace` as kubectl spells them. Cluster-scoped commands
    /// (namespaces, `version`) pass `namespaced: false` so the plan does not show a namespace that plays no part.
    public func kubectlFlags(namespaced: Bool = true) -> [String] {
        flags(contextFlag: "--context", namespaced: namespaced)
    }

    /// The same target as helm spells it: `--kube-context` instead of `--context`.
    public func helmFlags(namespaced: Bool = true) -> [String] {
        flags(contextFlag: "--kube-context", namespaced: namespaced)
    }

    private func flags(contextFlag: String, namespaced: Bool) -> [String] {
        var flags: [String] = []
        if let kubeconfig, !kubeconfig.isEmpty { flags += ["--kubeconfig", kubeconfig] }
        if let context, !context.isEmpty { flags += [contextFlag, context] }
        if namespaced, let namespace, !namespace.isEmpty { flags += ["--namespace", namespace] }
        return flags
    }
}
