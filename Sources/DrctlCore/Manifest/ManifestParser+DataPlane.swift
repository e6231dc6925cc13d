import Foundation

/// `database.dataPlane` and `database.jobs` (manifests/README.md, "Where the data moves").
extension ManifestParser {
    func dataPlane(_ node: ManifestNode) throws(ManifestError) -> Manifest.DataPlane {
        let text = try node.nonEmptyString()
        guard let placement = Manifest.DataPlane(rawValue: text) else {
            throw node.invalid(
                text,
                expected: "local (this machine), port-forward (a kubectl port-forward drctl runs) or job"
                    + " (Kubernetes Jobs from drctl's image)")
        }
        return placement
    }

    func dataPlaneJobs(_ node: ManifestNode) throws(ManifestError) -> Manifest.DataPlaneJobs {
        let jobs = try node.mapping(allowing: [
            "image", "passwordSecret", "environmentSecret", "backupClaim", "serviceAccount", "scratchLimit",
        ])
        var image = Manifest.DataPlaneJobs.defaultImage
        if let imageNode = jobs.optional("image") {
            image = try imageNode.nonEmptyString()
            guard !image.contains(where: \.isWhitespace) else {
                throw imageNode.invalid(image, expected: "a container image reference like ghcr.io/valeo/drctl:1.4.0")
            }
        }
        var passwordSecret: Manifest.KubernetesSecretKey?
        if let secretNode = jobs.optional("passwordSecret") {
            let secret = try secretNode.mapping(allowing: ["name", "key"])
            passwordSecret = Manifest.KubernetesSecretKey(
                name: try kubernetesName(secret.required("name")), key: try secretKey(secret.required("key")))
        }
        var settings = Manifest.DataPlaneJobs(
            image: image,
            passwordSecret: passwordSecret,
            environmentSecret: try jobs.optional("environmentSecret").map(kubernetesName),
            backupClaim: try jobs.optional("backupClaim").map(kubernetesName),
            serviceAccount: try jobs.optional("serviceAccount").map(kubernetesName)
        )
        settings.scratchLimit = try jobs.optional("scratchLimit")?.byteSize()
        return settings
    }
}
