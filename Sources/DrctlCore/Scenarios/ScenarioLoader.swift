import Foundation

/// Loads what every scenario needs from a manifest path: the manifest, the password, the helm flavour, the tool
/// wrappers. Used alike by `plan`, by the scenario commands and by `drctl resume` (through `ScenarioRegistry`).
public struct ScenarioLoader: Sendable {
    public var environment: [String: String]
    public var runner: any CommandRunning
    /// Manifests a command has read already, by the path they were read from (as given, so the value is the one
    /// a fresh read of that path gives, fingerprint included): used instead of reading the file again, so a
    /// command reads its manifest once.
    public var loaded: [String: Manifest]

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, runner: any CommandRunning,
        loaded: [Manifest] = []
    ) {
        self.environment = environment
        self.runner = runner
        self.loaded = Dictionary(loaded.map { ($0.source.file.written, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// `planning` tolerates an unset password (the plan shows `***` either way) and an absent helm binary
    /// (assumed helm 3), so a plan can be read on any laptop.
    public func toolbox(manifestPath: String, planning: Bool = false) async throws -> ScenarioToolbox {
        try await toolbox(manifest: try manifest(at: manifestPath), planning: planning)
    }

    /// The manifest at `path`: the one the command read already (`loaded`), else read now.
    public func manifest(at path: String) throws -> Manifest {
        if let manifest = loaded[path] { return manifest }
        return try ManifestLoader(environment: environment).load(from: path)
    }

    /// The toolbox for a manifest the caller has loaded already (the manifest is read once per command).
    public func toolbox(manifest: Manifest, planning: Bool = false) async throws -> ScenarioToolbox {
        let resolver = SecretResolver(environment: environment)
        let password: SecretValue
        let signingKey: SecretValue?
        do {
            password = try resolver.resolve(for: manifest).databasePassword
        } catch  where planning {
            password = SecretValue("")
        }
        do {
            signingKey = try resolver.signingKey(for: manifest)
        } catch  where planning {
            signingKey = nil
        }
        let executables = ToolExecutables(environment: environment)
        let helmVersion = await detectHelmVersion(executable: executables.helm, planning: planning)
        return ScenarioToolbox(
            manifest: manifest, databasePassword: password, helmMajorVersion: helmVersion, executables: executables,
            recordSigningKey: signingKey)
    }

    /// `helm version`: helm 3 and 4 spell `--wait` and `--atomic` differently. `DRCTL_HELM_MAJOR=3|4` skips the
    /// question (and makes plans reproducible); otherwise the answer is cached per helm binary
    /// (`HelmVersionCache`: path, modification time and size), so only a new or changed helm is asked.
    func detectHelmVersion(executable: String, planning: Bool) async -> HelmMajorVersion {
        if let forced = environment["DRCTL_HELM_MAJOR"].flatMap(Int.init).flatMap(HelmMajorVersion.init(rawValue:)) {
            return forced
        }
        let cache = HelmVersionCache(executable: executable, environment: environment)
        if let cached = cache?.load() { return cached }
        let invocation = Helm(executable: executable).version()
        guard let result = try? await runner.run(invocation), result.succeeded,
            let version = try? HelmMajorVersion.parse(versionOutput: result.output)
        else { return .v3 }
        cache?.store(version)
        return version
    }

    /// Where scenarios keep per-run scratch files (downloaded backups, 0600 values files).
    public static func workRoot(stateDirectory: String) -> String { stateDirectory + "/work" }
}

extension ScenarioRegistry {
    /// Registers the scenarios that are built from a manifest; `parameters.manifest` is its path,
    /// `parameters.workRoot` the scratch root and `parameters.options` the scenario's `Options`, all journaled
    /// when the run started. `planning` lets a plan be built without the password or a helm binary (see
    /// `ScenarioLoader.toolbox`).
    public mutating func registerManifestScenarios(loader: ScenarioLoader, planning: Bool = false) {
        registerWithScratch(RebuildScenario.runbookID, loader: loader, planning: planning) {
            toolbox, parameters, workRoot in
            try RebuildScenario(
                toolbox: toolbox, options: try parameters.options(RebuildScenario.Options.self), workRoot: workRoot
            ).runbook(parameters: parameters)
        }
        register(AppRollbackScenario.runbookID) { parameters in
            let options = try parameters.options(AppRollbackScenario.Options.self)
            // Without --with-migrations the app rollback never touches the database: no password needed.
            let toolbox = try await loader.toolbox(
                manifestPath: try parameters.requireManifest(), planning: planning || !options.withMigrations)
            return try AppRollbackScenario(toolbox: toolbox, options: options).runbook(parameters: parameters)
                .reachingDatabase(through: toolbox)
        }
        register(MigrationRollbackScenario.runbookID) { parameters in
            let toolbox = try await loader.toolbox(manifestPath: try parameters.requireManifest(), planning: planning)
            return try MigrationRollbackScenario(
                toolbox: toolbox, options: try parameters.options(MigrationRollbackScenario.Options.self)
            ).runbook(parameters: parameters).reachingDatabase(through: toolbox)
        }
        registerWithScratch(RecoverRowsScenario.runbookID, loader: loader, planning: planning) {
            toolbox, parameters, workRoot in
            try RecoverRowsScenario(
                toolbox: toolbox, options: try parameters.options(RecoverRowsScenario.Options.self),
                workRoot: workRoot
            ).runbook(parameters: parameters)
        }
        registerWithScratch(RestoreScenario.runbookID, loader: loader, planning: planning) {
            toolbox, parameters, workRoot in
            try RestoreScenario(
                toolbox: toolbox, options: try parameters.options(RestoreScenario.Options.self), workRoot: workRoot
            ).runbook(parameters: parameters)
        }
        registerWithScratch(BackupScenario.runbookID, loader: loader, planning: planning) {
            toolbox, parameters, workRoot in
            try BackupScenario(
                toolbox: toolbox, options: try parameters.options(BackupScenario.Options.self), workRoot: workRoot
            ).runbook(parameters: parameters)
        }
        register(GamedayScenario.runbookID) { parameters in
            let loaded = try await GamedayScenario.load(parameters: parameters, loader: loader, planning: planning)
            return loaded.runbook.reachingDatabase(through: loaded.scenario.target)
        }
    }

    /// Registers a scenario that needs the manifest's toolbox and the per-run scratch root (both journaled).
    mutating func registerWithScratch(
        _ runbookID: String, loader: ScenarioLoader, planning: Bool,
        build: @escaping @Sendable (ScenarioToolbox, RunParameters, String) throws -> Runbook
    ) {
        register(runbookID) { parameters in
            let manifestPath = try parameters.requireManifest()
            let workRoot = try parameters.requireWorkRoot()
            let toolbox = try await loader.toolbox(manifestPath: manifestPath, planning: planning)
            return try build(toolbox, parameters, workRoot).reachingDatabase(through: toolbox)
        }
    }
}

extension Runbook {
    /// This runbook with the toolbox's database tunnel (`database.dataPlane: port-forward`), which `RunService`
    /// keeps open for the run and `drctl plan` shows.
    func reachingDatabase(through toolbox: ScenarioToolbox) -> Runbook {
        var copy = self
        copy.databaseTunnel = toolbox.databaseTunnel
        return copy
    }
}
