import Foundation

/// `database.dataPlane: port-forward` (and `job`, for the SQL drctl itself runs): drctl reaches the database
/// through a `kubectl port-forward` it runs to the PostgreSQL Service that `database.host` names
/// (`NAME.NAMESPACE.svc.cluster.local`, which only the cluster resolves). Every psql, pg_dump, pg_restore and
/// alembic the run starts is pointed at the tunnel's local port when it starts (`rerouted`), so steps, probes and
/// undos build their commands as for `local`, and `drctl plan` shows the tunnel's command line beside them.
public struct DatabaseTunnel: Sendable, Hashable {
    /// `kubectl … --namespace NS port-forward svc/NAME :PORT`.
    public var command: CommandInvocation
    /// What the manifest says: the in-cluster host and port every database command is built with.
    public var host: String
    public var port: Int
    /// `port-forward` or `job`.
    public var dataPlane: String
    /// What the identity drctl runs as needs for the tunnel (`DataPlaneRBAC.portForward`), in the Service's
    /// namespace.
    public var rbac: [CommandInvocation]

    /// The tunnel of `manifest`'s database, or nil when its data plane does not use one: `port-forward`, and
    /// `job` when `database.host` names a Service (the SQL that conducts the Jobs' work goes through it; a host
    /// outside the cluster is reached directly).
    public init?(manifest: Manifest, kubectl: Kubectl) {
        guard manifest.database.dataPlane != .local,
            let service = Self.service(host: manifest.database.host, namespace: manifest.kube.namespace)
        else { return nil }
        command = kubectl.portForward(
            service: service.name, namespace: service.namespace, remotePort: manifest.database.port)
        host = manifest.database.host
        port = manifest.database.port
        dataPlane = manifest.database.dataPlane.rawValue
        var scoped = kubectl
        scoped.target.namespace = service.namespace
        rbac = DataPlaneRBAC.portForward.invocations(kubectl: scoped)
    }

    /// The Service and namespace an in-cluster host names: `NAME`, `NAME.NS`, `NAME.NS.svc`, or
    /// `NAME.NS.svc.CLUSTER-DOMAIN`; nil for anything else (an address, an outside name).
    public static func service(host: String, namespace: String) -> (name: String, namespace: String)? {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let name = labels.first, labels.prefix(2).allSatisfy(isDNSLabel), name.first?.isLetter == true
        else { return nil }
        switch labels.count {
        case 1: return (name, namespace)
        case 2: return (name, labels[1])
        default: return labels[2] == "svc" ? (name, labels[1]) : nil
        }
    }

    private static func isDNSLabel(_ label: String) -> Bool {
        !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
            && label.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    /// `invocation` pointed at `127.0.0.1:localPort` when it connects to the manifest's database (psql,
    /// pg_dump and pg_restore by `-h HOST -p PORT`, alembic by `DB_HOST`/`DB_PORT`); nil when it does not.
    public func rerouted(_ invocation: CommandInvocation, localPort: Int) -> CommandInvocation? {
        PostgresConnection.rerouting(invocation, from: (host, port), to: ("127.0.0.1", localPort))
    }

    /// What `drctl plan` prints about it.
    public var planLines: [String] {
        [
            "database.dataPlane: \(dataPlane) — drctl keeps this tunnel open for the run (restarted if it drops):",
            "  $ \(command.redactedCommandLine)",
            "  psql, pg_dump, pg_restore and alembic connect to 127.0.0.1:<its local port> instead of \(host):\(port)",
        ] + rbac.map { "  " + DataPlaneRBAC.portForward.planLine($0) }
    }
}
