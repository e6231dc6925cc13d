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
