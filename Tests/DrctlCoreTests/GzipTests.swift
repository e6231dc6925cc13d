import DrctlCore
import Foundation
import Testing

@Suite struct GzipTests {
    @Test func builders() {
        #expect(Gzip().test(file: "/b/x.sql.gz").arguments == ["-t", "/b/x.sql.gz"])
        #expect(Gzip().compress().arguments == ["-c"])
        #expect(Gzip().compress(level: 9).arguments == ["-c", "-9"])
        #expect(Gzip().decompress().arguments == ["-dc"])
        #expect(Gzip().decompress(file: "/b/x.sql.gz").arguments == ["-dc", "/b/x.sql.gz"])
        #expect(Gzip(executable: "/bin/gzip").test(file: "f").executable == "/bin/gzip")
    }

    /// A folder holding an executable `pigz` (a stand-in file: nothing runs it), for a `PATH` to find.
    static func folderWithPigz() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-pigz-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pigz = folder + "/pigz"
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: pigz))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: pigz)
        return folder
    }

    @Test("auto compresses with pigz when it is on PATH, else with gzip; an installed pigz also decompresses")
    func compressorChoice() throws {
        let folder = try Self.folderWithPigz()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let withPigz = ToolExecutables(environment: ["PATH": "/nonexistent:" + folder])
        let without = ToolExecutables(environment: ["PATH": "/nonexistent"])
        #expect(withPigz.pigzInstalled)
        #expect(!without.pigzInstalled)
        #expect(!ToolExecutables().pigzInstalled)

        let auto = Gzip(executables: withPigz, compressor: .auto)
        #expect(auto.compress().redactedCommandLine == "pigz -c")
        #expect(auto.decompress(file: "f.sql.gz").redactedCommandLine == "pigz -dc f.sql.gz")
        #expect(auto.test(file: "f.sql.gz").redactedCommandLine == "gzip -t f.sql.gz")
        #expect(auto.strictDecompress().redactedCommandLine == "gzip -dc")

        let pinned = Gzip(executables: withPigz, compressor: .gzip)
        #expect(pinned.compress().redactedCommandLine == "gzip -c")
        #expect(pinned.decompress().redactedCommandLine == "pigz -dc")

        let absent = Gzip(executables: without, compressor: .auto)
        #expect(absent.compress().redactedCommandLine == "gzip -c")
        #expect(absent.decompress().redactedCommandLine == "gzip -dc")
        // Asked for by name, pigz is what runs (a missing one fails naming `apt-get install pigz`).
        #expect(Gzip(executables: without, compressor: .pigz).compress().redactedCommandLine == "pigz -c")
        #expect(
            Gzip(
                executables: ToolExecutables(environment: ["DRCTL_PIGZ": "/opt/pigz/bin/pigz"]),
                compressor: .pigz
            ).compress().executable == "/opt/pigz/bin/pigz")
    }

    // stderr as gzip 1.12 prints it.
    func classify(_ status: Int32, _ stderr: String) -> Result<Void, GzipIntegrityError> {
        let invocation = Gzip().test(file: "x.gz")
        return Gzip.classifyIntegrity(
            CommandResult(invocation: invocation, status: .exited(status), standardErrorTail: stderr), file: "x.gz")
    }

    @Test func classifiesIntegrity() throws {
        try classify(0, "").get()
        #expect(throws: GzipIntegrityError.corrupt(file: "x.gz", detail: "gzip: x.gz: unexpected end of file")) {
            try classify(1, "\ngzip: x.gz: unexpected end of file\n").get()
        }
        #expect(throws: GzipIntegrityError.corrupt(file: "x.gz", detail: "gzip: x.gz: not in gzip format")) {
            try classify(1, "gzip: x.gz: not in gzip format").get()
        }
        #expect(throws: GzipIntegrityError.missing(file: "x.gz")) {
            try classify(1, "gzip: x.gz: No such file or directory").get()
        }
        let trailing = #expect(throws: GzipIntegrityError.self) {
            try classify(2, "gzip: x.gz: decompression OK, trailing garbage ignored").get()
        }
        #expect(
            trailing == .trailingGarbage(file: "x.gz", detail: "gzip: x.gz: decompression OK, trailing garbage ignored")
        )
        #expect(trailing?.localizedDescription.contains("refuses it") == true)
    }
}
