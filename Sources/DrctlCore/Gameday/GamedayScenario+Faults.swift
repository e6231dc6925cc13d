import Foundation

/// The faults a drill injects into its own runbook: a corrupt newest backup, a deployment that never becomes ready.
/// (The kill after a step's effect is no step of the runbook: `GamedayService` runs the scenario in a child drctl
/// that the executor stops there, `DRCTL_PAUSE_AT=effect:STEP`, and kills it.)
extension GamedayScenario {
    /// Uploads a corrupt `<db>_backup_<now>.sql.gz` (with a sidecar naming its checksum, so only the gzip test can
    /// catch it) before the store is listed (the rebuild's `backup.select`, else the fetch); the fetch must skip
    /// it. Removed again once the fetch is done.
    func injectCorruptBackup(into steps: [RunbookStep], toolbox: ScenarioToolbox) throws -> [RunbookStep] {
        guard let fetchID = steps.first(where: { Self.backupStepIDs.contains($0.id) })?.id else {
            throw GamedayError.faultNotPossible(
                fault: "corruptNewestBackup", reason: "the \(drill.scenario.rawValue) runbook fetches no backup")
        }
        let listID = steps.first { $0.id == Self.backupSelectStepID }?.id ?? fetchID
        guard source.environment.lowercased() != "production" else {
            throw GamedayError.faultNotPossible(
                fault: "corruptNewestBackup",
                reason: "it writes an object into the --from backup store, and that is production's; drill with a "
                    + "copy of production's backups (another manifest) to inject it")
        }
        let fetcher = OffsiteBackupFetcher(toolbox: toolbox, workRoot: workRoot)
        let (store, prefix) = try fetcher.location()
        let database = source.database.name
        let workRoot = self.workRoot
        let inject = RunbookStep(
            id: "fault.corrupt-backup",
            title: "FAULT: put a corrupt backup newer than every real one into \(store.displayName)/\(prefix)",
            inputs: ["store": store.displayName, "prefix": prefix],
            commands: [
                "upload <corrupt \(database)_backup_<now>.sql.gz> and its .sha256 to \(store.displayName)/\(prefix)daily/"
            ],
            undo: StepUndo(
                title: "delete the injected corrupt backup and its .sha256 from \(store.displayName)",
                settledBy: ["fault.remove-corrupt-backup"]
            ) { context in
                let key = try context.outputs(of: "fault.corrupt-backup").require("key", from: "fault.corrupt-backup")
                try await context.runner.runChecked(store.delete(key))
                try await context.runner.runChecked(store.delete(OffsiteTarget.sidecarKey(for: key)))
                return "the injected corrupt backup \(key) and its .sha256 were deleted from \(store.displayName)"
            }
        ) { context in
            let name = try BackupName(database: database, timestamp: context.clock.now()).fileName
            let key = OffsiteTarget.join(prefix, "daily/" + name)
            let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "faults")
            let file = folder + "/" + name
            var bytes = Data([0x1f, 0x8b, 0x08, 0x00])
            bytes.append(Data(repeating: 0x5a, count: 64 * 1024))
            try bytes.write(to: URL(fileURLWithPath: file))
            let sidecar = file + ".sha256"
            try Data(SHA256Checksum.sidecarText(sha256: SHA256Checksum.of(bytes), fileName: name).utf8).write(
                to: URL(fileURLWithPath: sidecar))
            try await context.runner.runChecked(try store.upload(.file(file), to: key))
            try await context.runner.runChecked(
                try store.upload(.file(sidecar), to: OffsiteTarget.sidecarKey(for: key)))
            return ["key": key, "name": name, "sha256": SHA256Checksum.of(bytes)]
        }
        let remove = RunbookStep(
            id: "fault.remove-corrupt-backup",
            title: "Remove the injected corrupt backup from the off-site store",
            dependsOn: [fetchID, "fault.corrupt-backup"],
            commands: ["delete the injected object and its .sha256"]
        ) { context in
            let key = try context.outputs(of: "fault.corrupt-backup").require("key", from: "fault.corrupt-backup")
            try await context.runner.runChecked(store.delete(key))
            try await context.runner.runChecked(store.delete(OffsiteTarget.sidecarKey(for: key)))
            return ["removed": key]
        }
        var result: [RunbookStep] = [inject]
        for var step in steps {
            if step.id == listID { step.dependsOn.append("fault.corrupt-backup") }
            if step.id == Self.cleanupStepID { step.dependsOn.append("fault.remove-corrupt-backup") }
            result.append(step)
            if step.id == fetchID { result.append(remove) }
        }
        return result
    }

    /// The steps that pick the backup (their outputs name it): the rebuild's fetch, the restores' verify.
    static let backupStepIDs: [StepID] = ["backup.fetch", "backup.verify"]
    /// The rebuild's step that lists the off-site store and spools the backup ahead of the fetch.
    static let backupSelectStepID: StepID = "backup.select"

    /// Points the app deployment's first container at `<its image>:drctl-gameday-never-ready` right before the
    /// run waits for the rollout (a tag no registry has: on a real cluster the pods never pull, so never become
    /// ready). The run's rollout wait must then fail; the report says where and with what message.
    func injectNeverReady(into steps: [RunbookStep], toolbox: ScenarioToolbox) throws -> [RunbookStep] {
        // The step that waits for the rollout, and what it must follow.
        let waiting: StepID
        let after: [StepID]
        switch drill.scenario {
        case .clusterLoss:
            waiting = "app.rollout"
            after = ["app.scale-up"]
        case .dbRestore:
            waiting = "app.scale-up"
            after = ["app.scale-down", "database.smoke"]
        case .rowRecovery:
            throw GamedayError.faultNotPossible(
                fault: "deploymentNeverReady", reason: "the row-recovery runbook does not touch the app deployment")
        case .appRollback:
            throw GamedayError.faultNotPossible(
                fault: "deploymentNeverReady",
                reason: "the app-rollback drill's bad release already is a deployment that never becomes ready "
                    + "(configure it with badRelease.set)")
        }
        let kubectl = toolbox.kubectl
        let deployment = toolbox.manifest.releases.app.deployment
        let read = kubectl.getDeployment(deployment)
        let planned = kubectl.setImage(
            deployment: deployment, container: "<first container>",
            image: "<its image>:\(DrillScript.BadRelease.neverReadyTag)")
        let fault = RunbookStep(
            id: "fault.deployment-never-ready",
            title:
                "FAULT: point deployment \(deployment) at an image tag that does not exist, so it never becomes ready",
            dependsOn: after,
            inputs: ["deployment": deployment, "tag": DrillScript.BadRelease.neverReadyTag],
            commands: [read.redactedCommandLine, planned.redactedCommandLine],
            undo: StepUndo(
                title: "point deployment \(deployment)'s container back at the image it ran before the fault",
                settledBy: []
            ) { context in
                let fault = try context.outputs(of: "fault.deployment-never-ready")
                let container = try fault.require("container", from: "fault.deployment-never-ready")
                let was = try fault.require("was", from: "fault.deployment-never-ready")
                try await context.runner.runChecked(
                    kubectl.setImage(deployment: deployment, container: container, image: was))
                return "deployment \(deployment) runs \(was) again, as before the fault"
            }
        ) { context in
            let json = try await context.runner.runChecked(read).standardOutput
            guard let container = try Kubectl.parseDeployment(json).containers.first else {
                throw GamedayError.faultNotPossible(
                    fault: "deploymentNeverReady", reason: "deployment \(deployment) has no container to break")
            }
            let image = Self.retagged(container.image, tag: DrillScript.BadRelease.neverReadyTag)
            try await context.runner.runChecked(
                kubectl.setImage(deployment: deployment, container: container.name, image: image))
            context.log("FAULT INJECTED: deployment \(deployment) now runs \(image), which never becomes ready")
            return ["deployment": deployment, "container": container.name, "image": image, "was": container.image]
        }
        guard let index = steps.firstIndex(where: { $0.id == waiting }) else {
            throw GamedayError.faultNotPossible(
                fault: "deploymentNeverReady", reason: "the runbook has no step \(waiting) to break")
        }
        var result = steps
        result[index].dependsOn.append(fault.id)
        result.insert(fault, at: index)
        return result
    }

    /// `nginx:1.27` → `nginx:TAG`, `registry:5000/app` → `registry:5000/app:TAG`, a digest dropped.
    public static func retagged(_ image: String, tag: String) -> String {
        var repository = image.split(separator: "@", maxSplits: 1).first.map(String.init) ?? image
        if let colon = repository.lastIndex(of: ":"), !repository[colon...].contains("/") {
            repository = String(repository[..<colon])
        }
        return repository + ":" + tag
    }
}
