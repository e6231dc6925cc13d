import Foundation
import Subprocess

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Pipes and descriptors: what each stage reads and writes, opened before any stage starts, so a missing file
/// or executable starts nothing.

extension CommandRunner {
    /// Writing to a pipe whose reader has exited must fail with EPIPE, not kill drctl. Children get the default
    /// SIGPIPE disposition back (swift-subprocess resets every signal in the child).
    private static let brokenPipeSignalIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Asks for a pipe of `PipeRelay.defaultChunkSize` bytes; a system that allows less keeps its default (no
    /// error: the relay works with any size, only more often).
    static func enlargePipe(_ descriptor: Int32) {
        #if os(Linux)
            // F_SETPIPE_SZ (linux/fcntl.h: F_LINUX_SPECIFIC_BASE + 7), which Glibc's Swift module does not export.
            _ = fcntl(descriptor, 1031, Int32(PipeRelay.defaultChunkSize))
        #endif
    }

    static func ignoreBrokenPipeSignal() {
        _ = brokenPipeSignalIgnored
    }

    static func resolveExecutable(_ invocation: CommandInvocation) throws -> String {
        let redactor = Redactor(secrets: invocation.secrets)
        let commandLine = invocation.redactedCommandLine
        if let directory = invocation.workingDirectory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw CommandLaunchError.workingDirectoryMissing(
                    path: redactor.redact(directory), commandLine: commandLine)
            }
        }
        switch ExecutableLocator.locate(invocation) {
        case .found(let path):
            return path
        case .notExecutable(let path):
            throw CommandLaunchError.notExecutable(path: redactor.redact(path), commandLine: commandLine)
        case .notFound:
            throw CommandLaunchError.notFound(
                executable: redactor.redact(invocation.executable),
                commandLine: commandLine,
                searchPath: redactor.redact(ExecutableLocator.searchPath(for: invocation))
            )
        }
    }

    /// Opens every descriptor the stages need: the first stage's input, the pipes between stages, and the last
    /// stage's output. All are close-on-exec, so only the child that takes one over (as 0 or 1) holds it; each
    /// is closed in drctl right after that child starts, so end-of-file reaches the next stage. A tapped
    /// boundary gets two pipes, with drctl's relay holding the inner ends; a tap after the last stage holds the
    /// output file.
    static func openDescriptors(
        for invocations: [CommandInvocation],
        output: CommandPipeline.Output,
        taps: [PipelineTap]
    ) throws -> (stages: [(StageInput, StageOutput)], relays: [PipeRelay]) {
        var opened: [Int32] = []
        do {
            guard let first = invocations.first, let last = invocations.last else { return ([], []) }
            let firstRedactor = Redactor(secrets: first.secrets)
            let firstInput: StageInput
            switch first.standardInput {
            case .none:
                firstInput = .descriptor(
                    try openOrThrow("/dev/null", O_RDONLY, &opened) { reason in
                        CommandLaunchError.standardInputUnreadable(
                            path: "/dev/null", commandLine: first.redactedCommandLine, reason: reason)
                    })
            case .file(let path):
                firstInput = .descriptor(
                    try openOrThrow(path, O_RDONLY, &opened) { reason in
                        CommandLaunchError.standardInputUnreadable(
                            path: firstRedactor.redact(path), commandLine: first.redactedCommandLine, reason: reason)
                    })
            case .bytes(let data):
                firstInput = .bytes(data)
            }

            let lastRedactor = Redactor(secrets: invocations.flatMap(\.secrets))
            let lastOutput: StageOutput
            switch output {
            case .capture:
                lastOutput = .capture
            case .lines(let prefixes):
                lastOutput = .captureLines(startingWith: prefixes)
            case .discard:
                lastOutput = .descriptor(
                    try openOrThrow("/dev/null", O_WRONLY, &opened) { reason in
                        CommandLaunchError.outputFileUnwritable(
                            path: "/dev/null", commandLine: last.redactedCommandLine, reason: reason)
                    })
            case .file(let path):
                let descriptor = try openOrThrow(path, O_WRONLY | O_CREAT | O_TRUNC, &opened) { reason in
                    CommandLaunchError.outputFileUnwritable(
                        path: lastRedactor.redact(path), commandLine: last.redactedCommandLine, reason: reason)
                }
                // An existing file keeps its mode on O_CREAT; the output may hold a database dump.
                _ = fchmod(descriptor, 0o600)
                lastOutput = .descriptor(descriptor)
            }

            /// `relayed`: a pipe drctl's tap reads or writes, made as large as the relay's buffer where the system
            /// allows (`F_SETPIPE_SZ`, up to /proc/sys/fs/pipe-max-size): a read then brings up to 1 MiB instead
            /// of 64 KiB, so the relay wakes and calls the kernel a sixteenth as often per byte.
            func makePipe(_ index: Int, relayed: Bool = false) throws -> (read: Int32, write: Int32) {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else {
                    throw CommandLaunchError.spawnFailed(
                        commandLine: invocations[index].redactedCommandLine,
                        reason: "cannot create a pipe: \(String(cString: strerror(errno)))")
                }
                opened += ends
                // Close-on-exec, so a stage started at the same moment does not inherit the other end.
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                if relayed { Self.enlargePipe(ends[0]) }
                return (ends[0], ends[1])
            }

            var stages: [(StageInput, StageOutput)] = []
            var relays: [PipeRelay] = []
            var nextInput = firstInput
            if let tap = taps.first(where: { $0.afterStage == -1 }), case .descriptor(let file) = firstInput {
                // drctl reads the first stage's input file itself, measuring it, and writes it into a pipe.
                let ends = try makePipe(0, relayed: true)
                relays.append(
                    PipeRelay(
                        afterStage: -1, source: file, destination: ends.write, readsToEnd: tap.readsToEnd,
                        hold: tap.hold, role: tap.role))
                nextInput = .descriptor(ends.read)
            }
            for index in invocations.indices {
                if index == invocations.count - 1 {
                    if let tap = taps.first(where: { $0.afterStage == index }), case .descriptor(let file) = lastOutput
                    {
                        // drctl writes the last stage's output into the file itself, measuring it on the way.
                        let ends = try makePipe(index, relayed: true)
                        stages.append((nextInput, .descriptor(ends.write)))
                        relays.append(
                            PipeRelay(
                                afterStage: index, source: ends.read, destination: file, readsToEnd: tap.readsToEnd,
                                hold: tap.hold, role: tap.role))
                    } else {
                        stages.append((nextInput, lastOutput))
                    }
                } else if let tap = taps.first(where: { $0.afterStage == index }) {
                    let before = try makePipe(index, relayed: true)
                    let after = try makePipe(index, relayed: true)
                    stages.append((nextInput, .descriptor(before.write)))
                    relays.append(
                        PipeRelay(
                            afterStage: index, source: before.read, destination: after.write,
                            readsToEnd: tap.readsToEnd, hold: tap.hold, role: tap.role))
                    nextInput = .descriptor(after.read)
                } else {
                    let ends = try makePipe(index)
                    stages.append((nextInput, .descriptor(ends.write)))
                    nextInput = .descriptor(ends.read)
                }
            }
            return (stages, relays)
        } catch {
            for descriptor in opened { close(descriptor) }
            throw error
        }
    }

    static func openOrThrow(
        _ path: String,
        _ flags: Int32,
        _ opened: inout [Int32],
        error: (String) -> CommandLaunchError
    ) throws -> Int32 {
        let descriptor = open(path, flags | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw error(String(cString: strerror(errno)))
        }
        opened.append(descriptor)
        return descriptor
    }
}
