import DrctlCore
import Foundation

/// A manifest with a nightly `schedule` (02:00 UTC) written to `<project>/manifests/<environment>.yaml`, and the
/// emitter for it: the schedule tests' one manifest.
enum ScheduleTestManifest {
    /// `kube` is the `kube:` mapping's lines; `extra` is appended after the schedule's three keys (more schedule
    /// keys indented by two, or top-level sections).
    static func emitter(
        project: String, environment: String, kube: String, s3: Bool = false, extra: String = "",
        drctlPath: String = "/usr/local/bin/drctl"
    ) throws -> BackupScheduleEmitter {
        try FileManager.default.createDirectory(atPath: project + "/manifests", withIntermediateDirectories: true)
        let manifestPath = project + "/manifests/\(environment).yaml"
        let yaml = """
            environment: \(environment)
            kube:
            \(kube)
            database: { host: 127.0.0.1, user: valeo, name: valeo_erp, password: { env: DB_PASSWORD } }
            backups:
              local: backups
              sizeFloor: 1kB
              retention: { daily: 30, monthly: 12 }
            \(s3 ? "  s3: { bucket: valeo-backups, prefix: postgresql/ }" : "")
            releases:
              postgresql: { name: postgresql, chart: bitnami/postgresql }
              app: { name: valeo-erp, chart: bitnami/nginx, replicas: 1 }
            readiness: { url: "http://127.0.0.1:1/readyz" }
            objectives: { rpo: 24h, rto: 4h }
            schedule:
              backups: "0 2 * * *"
              image: ghcr.io/valeo/drctl:1.4.0
              passwordSecret: { name: valeo-db, key: password }
            \(extra)

            """
        try yaml.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let manifest = try ManifestLoader(environment: [:]).load(from: manifestPath)
        return try BackupScheduleEmitter(manifest: manifest, manifestText: yaml, drctlPath: drctlPath)
    }
}
