import Foundation

extension BackupScheduleStatus {
    /// The `drctl status` check "Backups running daily — schedule": nil when the manifest names no schedule. Looks
    /// for the CronJob first, then (when `systemctl` is installed and there is no CronJob) the systemd timer.
    /// Passes when the schedule exists, is active and its last run did not fail.
    public func statusCheck(manifest: Manifest, kubectl: Kubectl, systemctl: Systemctl? = Systemctl.installed)
        async -> StatusCheck?
    {
        guard let schedule = manifest.schedule else { return nil }
        let item = "Backups running daily (schedule)"
        let remedy =
            "create it: drctl backup schedule -f \(manifest.source.file.written) --emit cronjob --apply"
            + " (or --emit systemd / cron)"
        var state: BackupScheduleState
        do {
            state = try await cronJob(manifest: manifest, kubectl: kubectl)
        } catch {
            if let systemctl, let timer = try? await systemdTimer(manifest: manifest, systemctl: systemctl),
                timer.exists
            {
                state = timer
            } else {
                return StatusCheck(
                    id: "backups.schedule", checklistItem: item, result: .fail,
                    evidence: "cannot read the CronJob: \(error.localizedDescription)", remedy: remedy)
            }
        }
        if !state.exists, let systemctl, let timer = try? await systemdTimer(manifest: manifest, systemctl: systemctl),
            timer.exists
        {
            state = timer
        }
        let lastRunFailed =
            state.lastScheduled.map { scheduled in state.lastSucceeded.map { $0 < scheduled } ?? true } ?? false
        let pass = state.exists && state.active && !lastRunFailed
        var evidence = state.text + " (schedule \"\(schedule.backups)\" UTC)"
        if state.exists, lastRunFailed, let scheduled = state.lastScheduled {
            evidence += "; the run scheduled at \(ISO8601DateFormatter().string(from: scheduled)) has not succeeded"
        }
        return StatusCheck(
            id: "backups.schedule", checklistItem: item, result: pass ? .pass : .fail, evidence: evidence,
            remedy: state.exists
                ? "look at the last backup Job's logs (kubectl logs job/…) or journalctl -u the service" : remedy)
    }
}
