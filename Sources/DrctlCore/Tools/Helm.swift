import Foundation

/// The helm major version an invocation is built for: helm 4 renamed or reshaped some flags.
public enum HelmMajorVersion: Int, Sendable, Hashable, Codable, CaseIterable {
    case v3 = 3
    case v4 = 4

    /// Reads `helm version --template {{.Version}}` output (`v3.18.0`, `v4.1.4`).
    public static func parse(versionOutput: String) throws(HelmError) -> HelmMajorVersion {
        let text = versionOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let digits = text.drop { $0 == "v" }.prefix { $0.isNumber }
        switch Int(digits) {
        case 3: return .v3
        case 4: return .v4
        default: throw .unsupportedVersion(text)
        }
    }
}

/// Errors specific to helm that are not a failed command.
public enum HelmError: Error, Sendable, Hashable, LocalizedError {
    case unsupportedVersion(String)

    public var errorDescription: String? {
        switch self {
        case .unsupportedVersion(let version):
            return
                "helm reported version \(version.isEmpty ? "(nothing)" : "'\(version)'"); drctl supports helm 3 and helm 4."
                + " Install a supported helm, or name its path in DRCTL_HELM (a drctl checkout's scripts/bootstrap puts"
                + " helm 3.18 and 4.1 in .tools/bin)."
        }
    }
}

/// What `helm upgrade --install` should do.
public struct HelmUpgradeOptions: Sendable, Hashable {
    public var valuesFiles: [String]
    /// The chart version constraint (`--version`); `nil` takes the latest.
    public var chartVersion: String?
    public var createNamespace: Bool
    /// Wait until the release's resources are ready (helm 3 `--wait`, helm 4 `--wait=watcher`).
    public var wait: Bool
    public var timeout: Duration?
    /// Roll back on failure (helm 3 `--atomic`, helm 4 `--rollback-on-failure`).
    public var atomic: Bool
    /// `--disable-openapi-validation`: needed against API servers that serve no OpenAPI document.
    public var disableOpenAPIValidation: Bool
    /// `--description`: the revision's description in `helm history` (drctl records `migration-revision=REV`).
    public var description: String?
    /// `--reuse-values`: keep the values of the deployed revision (a game day's bad release changes only `set`).
    public var reuseValues: Bool
    /// `--set KEY=VALUE` each, in order.
    public var set: [String]
    /// `--no-hooks`: the chart's hooks do not run (a rebuild's app release installed before its database exists).
    public var noHooks: Bool

    public init(
        valuesFiles: [String] = [],
        chartVersion: String? = nil,
        createNamespace: Bool = false,
        wait: Bool = false,
        timeout: Duration? = nil,
        atomic: Bool = false,
        disableOpenAPIValidation: Bool = false,
        description: String? = nil,
        reuseValues: Bool = false,
        set: [String] = [],
        noHooks: Bool = false
    ) {
        self.valuesFiles = valuesFiles
        self.chartVersion = chartVersion
        self.createNamespace = createNamespace
        self.wait = wait
        self.timeout = timeout
        self.atomic = atomic
        self.disableOpenAPIValidation = disableOpenAPIValidation
        self.description = description
        self.reuseValues = reuseValues
        self.set = set
        self.noHooks = noHooks
    }
}

/// Builds `helm` invocations for one cluster target and helm major version. Pure: nothing here starts a process.
public struct Helm: Sendable, Hashable {
    public var executable: String
    public var target: KubeTarget
    public var majorVersion: HelmMajorVersion

    public init(executable: String = "helm", target: KubeTarget = KubeTarget(), majorVersion: HelmMajorVersion = .v3) {
        self.executable = executable
        self.target = target
        self.majorVersion = majorVersion
    }

    public init(
        executable: String = "helm",
        kubeContext: String? = nil,
        namespace: String? = nil,
        kubeconfig: String? = nil,
        majorVersion: HelmMajorVersion = .v3
    ) {
        self.init(
            executable: executable,
            target: KubeTarget(context: kubeContext, namespace: namespace, kubeconfig: kubeconfig),
            majorVersion: majorVersion
        )
    }

    /// `helm version --template {{.Version}}`: prints `v3.18.0`; read it with `HelmMajorVersion.parse`.
    public func version() -> CommandInvocation {
        CommandInvocation(executable, ["version", "--template", "{{.Version}}"])
    }

    /// `helm repo add NAME URL --force-update` (re-adding an existing name is then not an error).
    public func repoAdd(name: String, url: String) -> CommandInvocation {
        CommandInvocation(executable, ["repo", "add", name, url, "--force-update"])
    }

    /// `helm repo update [NAME…]`.
    public func repoUpdate(_ names: [String] = []) -> CommandInvocation {
        CommandInvocation(executable, ["repo", "update"] + names)
    }

    /// `helm upgrade --install RELEASE CHART …`: installs when the release does not exist, so running it twice is safe.
    public func upgradeInstall(release: String, chart: String, options: HelmUpgradeOptions = HelmUpgradeOptions())
        -> CommandInvocation
    {
        var arguments = ["upgrade", "--install", release, chart]
        for file in options.valuesFiles { arguments += ["--values", file] }
        if let version = options.chartVersion { arguments += ["--version", version] }
        if options.createNamespace { arguments.append("--create-namespace") }
        if options.wait { arguments.append(waitFlag) }
        if let timeout = options.timeout { arguments += ["--timeout", GoDuration.format(timeout)] }
        if options.atomic { arguments.append(majorVersion == .v3 ? "--atomic" : "--rollback-on-failure") }
        if options.disableOpenAPIValidation { arguments.append("--disable-openapi-validation") }
        if let description = options.description { arguments += ["--description", description] }
        if options.reuseValues { arguments.append("--reuse-values") }
        if options.noHooks { arguments.append("--no-hooks") }
        for value in options.set { arguments += ["--set", value] }
        return invocation(arguments)
    }

    /// `helm history RELEASE -o json [--max N]`: read it with `parseHistory`.
    public func history(release: String, max: Int? = nil) -> CommandInvocation {
        var arguments = ["history", release, "--output", "json"]
        if let max { arguments += ["--max", String(max)] }
        return invocation(arguments)
    }

    /// `helm status RELEASE -o json`: read it with `parseStatus`. Exits non-zero with `release: not found` when absent.
    public func status(release: String) -> CommandInvocation {
        invocation(["status", release, "--output", "json"])
    }

    /// `helm rollback RELEASE [REVISION]`; without a revision helm goes back to the previous one.
    public func rollback(
        release: String,
        to revision: Int? = nil,
        wait: Bool = false,
        timeout: Duration? = nil,
        cleanupOnFail: Bool = false
    ) -> CommandInvocation {
        var arguments = ["rollback", release]
        if let revision { arguments.append(String(revision)) }
        if wait { arguments.append(waitFlag) }
        if let timeout { arguments += ["--timeout", GoDuration.format(timeout)] }
        if cleanupOnFail { arguments.append("--cleanup-on-fail") }
        return invocation(arguments)
    }

    /// `helm list -o json` in the target namespace. `all` includes failed and pending releases: helm 3 needs
    /// `--all` for that; helm 4 lists every status by default and no longer knows the flag.
    public func list(all: Bool = false) -> CommandInvocation {
        invocation(["list", "--output", "json"] + (all && majorVersion == .v3 ? ["--all"] : []))
    }

    /// `helm uninstall RELEASE [--wait] [--timeout]`.
    public func uninstall(release: String, wait: Bool = false, timeout: Duration? = nil) -> CommandInvocation {
        var arguments = ["uninstall", release]
        if wait { arguments.append(waitFlag) }
        if let timeout { arguments += ["--timeout", GoDuration.format(timeout)] }
        return invocation(arguments)
    }

    /// helm 3's `--wait` is a switch; helm 4's takes a strategy and `watcher` is the one that waits for readiness.
    private var waitFlag: String {
        majorVersion == .v3 ? "--wait" : "--wait=watcher"
    }

    private func invocation(_ arguments: [String]) -> CommandInvocation {
        CommandInvocation(executable, arguments + target.helmFlags()).declaring(Self.releaseAbsent, Self.releaseBusy)
    }

    /// `helm status` / `helm history` of a release that does not exist: `Error: release: not found`.
    static let releaseAbsent = ExitMeanings.when(standardErrorHolds: ["release: not found"], .absent)

    /// Another helm operation holds the release (helm exits 1 for every error and prints no structured one, so its
    /// own words, pkg/action's errPending and install's name check, are read here and nowhere else).
    static let releaseBusy = ExitMeanings.when(
        standardErrorHolds: [
            "another operation (install/upgrade/rollback) is in progress",
            "cannot re-use a name that is still in use",
        ], .contended("another helm operation holds the release"))
}

extension HelmError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .unsupportedVersion: .failed
        }
    }
}
