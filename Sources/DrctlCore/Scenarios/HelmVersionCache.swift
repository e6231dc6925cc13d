import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `helm version` answers in about half of a `drctl plan`'s time, and its answer only changes with the binary:
/// the major version is kept in `<state dir>/cache/helm-version.json`, keyed by the helm binary's resolved path,
/// modification time and size, so a replaced or upgraded helm is asked again. A cache that cannot be read or
/// written is never an error: then helm is asked, as without it.
struct HelmVersionCache {
    let file: String
    let key: String

    /// Most binaries one machine keeps answers for (helm 3 and 4 side by side, a few upgrades).
    static let capacity = 16

    /// nil when `executable` is not found on the environment's `PATH` (then helm is asked, and fails, as before).
    init?(executable: String, environment: [String: String]) {
        let lookup = CommandInvocation(executable, [], environment: environment["PATH"].map { ["PATH": $0] } ?? [:])
        guard case .found(let path) = ExecutableLocator.locate(lookup) else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        key = "\(path)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)|\(info.st_size)"
        let state = StateDirectory.resolve(flag: nil, environment: environment)
        let root = state.hasPrefix("s3://") ? StateDirectory.localDefault(environment: environment) : state
        file = root + "/cache/helm-version.json"
    }

    func load() -> HelmMajorVersion? {
        entries()[key].flatMap(HelmMajorVersion.init(rawValue:))
    }

    func store(_ version: HelmMajorVersion) {
        var entries = entries()
        if entries.count >= Self.capacity { entries = [:] }
        entries[key] = version.rawValue
        guard let data = try? JSONEncoder().encode(entries) else { return }
        let folder = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: file), options: .atomic)
    }

    private func entries() -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: file) else { return [:] }
        return (try? JSONDecoder().decode([String: Int].self, from: data)) ?? [:]
    }
}
