import Foundation

/// Refuses a game day whose target looks like production: a drill rebuilds and restores its target.
public enum ProductionGuard {
    /// The reasons the target looks like production; empty when it does not.
    public static func reasons(target: Manifest, source: Manifest) -> [String] {
        var reasons: [String] = []
        if target.environment.lowercased() == "production" || target.environment.lowercased() == "prod" {
            reasons.append("its environment is named \(target.environment)")
        }
        if target.source.file.absolute == source.source.file.absolute {
            reasons.append("it is the --from manifest itself")
        }
        if target.environment == source.environment {
            reasons.append("same environment name as --from (\(source.environment))")
        }
        if let context = target.kube.context, context == source.kube.context {
            reasons.append("same kube context as --from (\(context))")
        }
        if target.database.host == source.database.host, target.database.port == source.database.port,
            target.database.name == source.database.name
        {
            reasons.append(
                "same database as --from (\(target.database.host):\(target.database.port)/\(target.database.name))")
        }
        if let targetS3 = target.backups.s3, let sourceS3 = source.backups.s3, targetS3 == sourceS3 {
            reasons.append("same backup bucket and prefix as --from (\(targetS3.url))")
        }
        if let targetAzure = target.backups.azure, let sourceAzure = source.backups.azure, targetAzure == sourceAzure {
            reasons.append(
                "same backup container and prefix as --from (\(targetAzure.container)/\(targetAzure.prefix))")
        }
        return reasons
    }

    public static func check(target: Manifest, source: Manifest, overridden: Bool) throws(GamedayError) {
        let reasons = reasons(target: target, source: source)
        guard reasons.isEmpty || overridden else {
            throw .targetLooksLikeProduction(target: target.source.file.written, reasons: reasons)
        }
    }
}
