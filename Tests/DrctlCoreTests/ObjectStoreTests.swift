import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite struct ObjectStoreTests {
    let s3 = S3ObjectStore(bucket: "valeo-backups")
    let azure = AzureBlobObjectStore(container: "valeo-backups", connectionString: "AccountKey=s3cretkey")

    @Test func parsesObjectURLs() throws {
        let url = try ObjectURL(parsing: "s3://valeo-backups/postgresql/")
        #expect(url == ObjectURL(scheme: .s3, bucket: "valeo-backups", key: "postgresql/"))
        #expect(url.appending("daily/x.sql.gz").description == "s3://valeo-backups/postgresql/daily/x.sql.gz")
        #expect(try ObjectURL(parsing: "s3://b").key == "")
        #expect(try ObjectURL(parsing: "azure://c/p").appending("/x").key == "p/x")
        #expect(throws: ObjectStoreError.invalidURL("valeo-backups/x")) { try ObjectURL(parsing: "valeo-backups/x") }
        #expect(throws: ObjectStoreError.invalidURL("gs://b/x")) { try ObjectURL(parsing: "gs://b/x") }
        #expect(throws: ObjectStoreError.invalidURL("s3:///x")) { try ObjectURL(parsing: "s3:///x") }
    }

    @Test func s3Builders() throws {
        #expect(
            try s3.upload(.file("/b/x.gz"), to: "pg/x.gz").arguments == [
                "s3", "cp", "/b/x.gz", "s3://valeo-backups/pg/x.gz", "--only-show-errors",
            ])
        #expect(
            try s3.upload(.stream, to: "pg/x.gz").arguments == [
                "s3", "cp", "-", "s3://valeo-backups/pg/x.gz", "--only-show-errors",
            ])
        #expect(
            try s3.download("pg/x.gz", to: .stream).arguments == [
                "s3", "cp", "s3://valeo-backups/pg/x.gz", "-", "--only-show-errors",
            ])
        #expect(
            try s3.download("pg/x.gz", to: .file("/tmp/x.gz")).arguments == [
                "s3", "cp", "s3://valeo-backups/pg/x.gz", "/tmp/x.gz", "--only-show-errors",
            ])
        #expect(
            s3.list(prefix: "pg/").arguments == [
                "s3api", "list-objects-v2", "--bucket", "valeo-backups", "--prefix", "pg/", "--output", "json",
            ])
        #expect(
            s3.syncUp(directory: "/b", prefix: "pg/").arguments == [
                "s3", "sync", "/b", "s3://valeo-backups/pg/", "--only-show-errors",
            ])
        #expect(
            s3.syncDown(prefix: "archives/", directory: "/app/data/archive/").arguments == [
                "s3", "sync", "s3://valeo-backups/archives/", "/app/data/archive/", "--only-show-errors",
            ])
        #expect(s3.delete("pg/x.gz").arguments == ["s3", "rm", "s3://valeo-backups/pg/x.gz", "--only-show-errors"])
        #expect(
            s3.head("pg/x.gz").arguments == [
                "s3api", "head-object", "--bucket", "valeo-backups", "--key", "pg/x.gz", "--output", "json",
            ])
        let explicit = S3ObjectStore(bucket: "b", endpointURL: "http://127.0.0.1:9000")
        #expect(
            explicit.delete("k").arguments == [
                "s3", "rm", "s3://b/k", "--only-show-errors", "--endpoint-url", "http://127.0.0.1:9000",
            ])
        #expect(s3.head("k").executable == "aws")
    }

    // Captured from aws-cli 1.45 against moto_server.
    @Test func s3ParsesListings() throws {
        let listing = """
            {
                "Contents": [
                    {"Key": "pg/daily/a.sql.gz", "LastModified": "2026-11-25T14:25:47.000Z",
                     "ETag": "\\"b1946ac92492d2347c6235b4d2611184\\"", "ChecksumAlgorithm": ["CRC32"], "Size": 6, "StorageClass": "STANDARD"},
                    {"Key": "pg/daily/b.sql.gz", "LastModified": "2026-11-25T14:25:48.000Z",
                     "ETag": "\\"d59d1a1d43816bdfdadf203a7a8bb818\\"", "Size": 26, "StorageClass": "STANDARD"}
                ],
                "RequestCharged": null,
                "Prefix": "pg/"
            }
            """
        let objects = try s3.parseList(Data(listing.utf8))
        #expect(objects.map(\.key) == ["pg/daily/a.sql.gz", "pg/daily/b.sql.gz"])
        #expect(objects.map(\.size) == [6, 26])
        #expect(objects[0].etag == "b1946ac92492d2347c6235b4d2611184")
        #expect(objects[0].lastModified == ISO8601DateFormatter().date(from: "2026-11-25T14:25:47Z"))
        #expect(try s3.parseList(Data(#"{"RequestCharged": null, "Prefix": "pg/"}"#.utf8)).isEmpty)
        #expect(try s3.parseList(Data()).isEmpty)
    }

    @Test func s3ParsesHead() throws {
        let invocation = s3.head("pg/daily/a.sql.gz")
        let found = CommandResult.success(
            invocation,
            output: """
                {"AcceptRanges": "bytes", "LastModified": "Wed, 25 Nov 2026 14:25:47 GMT", "ContentLength": 6,
                 "ETag": "\\"b1946ac92492d2347c6235b4d2611184\\"", "ContentType": "binary/octet-stream", "Metadata": {}}
                """)
        let object = try s3.parseHead(found)
        #expect(object?.key == "pg/daily/a.sql.gz")
        #expect(object?.size == 6)
        #expect(object?.lastModified == ISO8601DateFormatter().date(from: "2026-11-25T14:25:47Z"))
        let missing = CommandResult.failure(
            invocation, status: 255,
            stderr: "\nAn error occurred (404) when calling the HeadObject operation: Not Found\n")
        #expect(try s3.parseHead(missing) == nil)
        let denied = CommandResult.failure(
            invocation, status: 255, stderr: "An error occurred (403) when calling the HeadObject operation: Forbidden")
        #expect(throws: ObjectStoreError.self) { try s3.parseHead(denied) }
    }

    @Test func azureBuilders() throws {
        let tail = ["--only-show-errors"]
        #expect(
            try azure.upload(.file("/b/x.gz"), to: "pg/x.gz").arguments == [
                "storage", "blob", "upload", "--container-name", "valeo-backups", "--name", "pg/x.gz", "--file",
                "/b/x.gz", "--overwrite",
            ] + tail)
        #expect(
            try azure.download("pg/x.gz", to: .file("/tmp/x.gz")).arguments == [
                "storage", "blob", "download", "--container-name", "valeo-backups", "--name", "pg/x.gz", "--file",
                "/tmp/x.gz",
            ] + tail)
        #expect(throws: ObjectStoreError.self) { try azure.upload(.stream, to: "x") }
        #expect(throws: ObjectStoreError.self) { try azure.download("x", to: .stream) }
        #expect(
            azure.list(prefix: "pg/").arguments == [
                "storage", "blob", "list", "--container-name", "valeo-backups", "--prefix", "pg/", "--num-results", "*",
                "--output", "json",
            ] + tail)
        #expect(
            azure.syncUp(directory: "/b", prefix: "pg/").arguments == [
                "storage", "blob", "upload-batch", "--destination", "valeo-backups", "--source", "/b",
                "--destination-path", "pg/", "--overwrite",
            ] + tail)
        #expect(
            azure.syncDown(prefix: "archives/", directory: "/a").arguments == [
                "storage", "blob", "download-batch", "--source", "valeo-backups", "--destination", "/a", "--pattern",
                "archives/*",
            ] + tail)
        #expect(
            azure.delete("pg/x.gz").arguments == [
                "storage", "blob", "delete", "--container-name", "valeo-backups", "--name", "pg/x.gz",
            ] + tail)
        #expect(
            azure.head("pg/x.gz").arguments == [
                "storage", "blob", "show", "--container-name", "valeo-backups", "--name", "pg/x.gz", "--output", "json",
            ] + tail)
    }

    @Test func azureConnectionStringNeverOnArgv() {
        let invocation = azure.list(prefix: "")
        #expect(invocation.environment == ["AZURE_STORAGE_CONNECTION_STRING": "AccountKey=s3cretkey"])
        #expect(!invocation.arguments.contains { $0.contains("s3cretkey") })
        #expect(!invocation.redactedCommandLine.contains("s3cretkey"))
        #expect(AzureBlobObjectStore(container: "c").list(prefix: "").environment.isEmpty)
    }

    // The shape az storage blob list -o json prints (azure-cli 2.x).
    @Test func azureParsesListAndHead() throws {
        let list = """
            [{"container": "valeo-backups", "name": "pg/daily/a.sql.gz", "snapshot": null,
              "properties": {"contentLength": 6, "lastModified": "2026-11-25T14:25:47+00:00", "etag": "\\"0x8DC\\"", "blobType": "BlockBlob"}}]
            """
        let objects = try azure.parseList(Data(list.utf8))
        #expect(
            objects == [
                StoredObject(
                    key: "pg/daily/a.sql.gz", size: 6,
                    lastModified: ISO8601DateFormatter().date(from: "2026-11-25T14:25:47Z"), etag: "0x8DC")
            ])
        let invocation = azure.head("pg/x")
        let missing = CommandResult.failure(
            invocation, status: 3, stderr: "ERROR: The specified blob does not exist.\nErrorCode:BlobNotFound")
        #expect(try azure.parseHead(missing) == nil)
        let found = CommandResult.success(invocation, output: #"{"name": "pg/x", "properties": {"contentLength": 12}}"#)
        #expect(try azure.parseHead(found)?.size == 12)
    }

    @Test func storesAreInterchangeable() throws {
        let stores: [any ObjectStore] = [s3, azure]
        #expect(stores.map(\.displayName) == ["s3://valeo-backups", "azure://valeo-backups"])
        for store in stores {
            #expect(try store.upload(.file("/b/x"), to: "k").arguments.contains("/b/x"))
        }
    }
}
