import Foundation

/// `database.dataPlane` (manifests/README.md, "Where the data moves").
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
}
