import Foundation

/// `archive` (manifests/README.md, "archive" and "Where the data moves").
extension ManifestParser {
    func archive(_ node: ManifestNode, dataPlane: Manifest.DataPlane) throws(ManifestError) -> Manifest.Archive {
        let archive = try node.mapping(allowing: ["source", "destination", "volumeClaim", "shards", "parallelism"])
        let claim = try archive.optional("volumeClaim").map(kubernetesName)
        if claim == nil, dataPlane != .local {
            throw .missingKeyFor(
                node.location, key: "volumeClaim", keyPath: node.keyPath,
                because: "with database.dataPlane: \(dataPlane.rawValue) the archive sync runs in a Kubernetes Job"
                    + " that writes into the app's PersistentVolumeClaim mounted at archive.destination; add"
                    + " volumeClaim: <the claim's name> (kubectl get pvc -n NAMESPACE), or use dataPlane: local")
        }
        let shards = try archive.optional("shards")?.integer(in: 1...1000) ?? Manifest.Archive.defaultShards
        var parallelism = Manifest.Archive.defaultParallelism
        if let parallelismNode = archive.optional("parallelism") {
            parallelism = try parallelismNode.integer(in: 1...1000)
            guard parallelism <= shards else {
                throw parallelismNode.invalid(
                    String(parallelism),
                    expected: "at most archive.shards (\(shards)): more pods than shards would have nothing to do")
            }
        } else {
            parallelism = min(parallelism, shards)
        }
        return Manifest.Archive(
            source: try archive.required("source").nonEmptyString(),
            destination: try archive.required("destination").path(),
            volumeClaim: claim, shards: shards, parallelism: parallelism)
    }
}
