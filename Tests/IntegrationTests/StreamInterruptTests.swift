import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C (SIGINT) while a rebuild loads its off-site backup, spooled by `backup.select` (`gzip -dc < spool | psql`,
/// drctl's tap on the input): the real binary, aws against moto, gzip, psql. Every stage ends, drctl exits 4 with the
/// run interrupted, and the resume restores the data. The test holds the load (`HeldLoad.atItsStart`), so the signal
/// never races the load.
@Suite("Ctrl-C during a streamed restore")
struct StreamInterruptTests {
    @Test("SIGINT while the spooled backup loads: gzip and psql both end, exit 4, and the resume restores the data")
    func ctrlCStopsEveryStageOfTheStream() async throws {
        try await LockHold.withRole { role in
            try await RebuildWorld.with(heldLoad: .atItsStart(role: role)) { world in
                let before = try await world.tableDigests()
                try await world.loseEverything()
                // The load waits on the held role before its first row; the 4 MiB after it fill the pipes, so gzip
                // and psql both wait too: Ctrl-C comes while every stage runs, whatever the machine's speed.
                let hold = try await LockHold(stack: world.stack, role: role)
                defer { hold.terminate() }
                let stages = Mutex<[(pid: pid_t, command: String)]>([])

                let (sent, run) = try await DrctlProcess.runSignalled(
                    world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                    signal: SIGINT, whenOutputContains: "spool of \(world.database)_backup_",
                    andCondition: { drctl in
                        let running = DrctlProcess.children(of: drctl).filter {
                            ["gzip", "psql"].contains($0.command)
                        }
                        stages.withLock { $0 = running }
                        guard Set(running.map(\.command)) == ["gzip", "psql"] else { return false }
                        return
                            (try? await LockHold.backendWaits(world.stack, database: world.database, restoreCopy: true))
                            == true
                    })

                #expect(sent, "the run finished before it could be interrupted:\n\(run.output)")
                let seen = stages.withLock { $0 }
                #expect(Set(seen.map(\.command)) == ["gzip", "psql"], "\(seen)")
                #expect(run.status == 4, "expected exit 4 (interrupted):\n\(run.output)\n\(run.errors)")
                for stage in seen {
                    // Ended with drctl; on a machine at load 60+ a killed process may need a moment to be scheduled
                    // and die: a stage still running 10 s later was left behind.
                    var polls = 0
                    while isAlive(stage.pid), polls < 500 {
                        try await Task.sleep(for: .milliseconds(20))
                        polls += 1
                    }
                    #expect(!isAlive(stage.pid), "\(stage.command) (\(stage.pid)) outlived the interrupted drctl")
                }
                let runID = try #require(DrctlProcess.runID(in: run.output))
                try await hold.release()
                try await world.expectResumeRestores(runID, to: before)
            }
        }
    }
}

/// Running, and not a zombie waiting to be reaped.
private func isAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
}
