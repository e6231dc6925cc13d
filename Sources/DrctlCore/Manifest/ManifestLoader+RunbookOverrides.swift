extension ManifestLoader {
    /// The runbook exports `DB_HOST`, `DB_USER`, `DB_NAME` (and `DB_PASSWORD`) before running its scripts; drctl
    /// honours them the same way, so an operator following the runbook gets what they exported. Empty values
    /// count as unset.
    func applyRunbookOverrides(to manifest: inout Manifest) throws(ManifestError) {
        func value(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        if let host = value("DB_HOST") {
            // With port-forward drctl tunnels to the Service the host names; an address would be used directly.
            if manifest.database.dataPlane == .portForward,
                DatabaseTunnel.service(host: host, namespace: manifest.kube.namespace) == nil
            {
                throw .invalidEnvironmentOverride(
                    variable: "DB_HOST", value: host,
                    expected: "with database.dataPlane: port-forward, the PostgreSQL Service's in-cluster name"
                        + " (NAME.NAMESPACE.svc.cluster.local); unset DB_HOST to use the manifest's")
            }
            manifest.database.host = host
            manifest.environmentOverrides["database.host"] = "DB_HOST"
        }
        if let portText = value("DB_PORT") {
            guard let port = Int(portText), (1...65_535).contains(port) else {
                throw .invalidEnvironmentOverride(
                    variable: "DB_PORT", value: portText, expected: "a port from 1 to 65535")
            }
            manifest.database.port = port
            manifest.environmentOverrides["database.port"] = "DB_PORT"
        }
        if let user = value("DB_USER") {
            manifest.database.user = user
            manifest.environmentOverrides["database.user"] = "DB_USER"
        }
        if let name = value("DB_NAME") {
            manifest.database.name = name
            manifest.environmentOverrides["database.name"] = "DB_NAME"
        }
        if value("DB_PASSWORD") != nil {
            manifest.database.password = .env("DB_PASSWORD")
            manifest.environmentOverrides["database.password"] = "DB_PASSWORD"
        }
    }
}
