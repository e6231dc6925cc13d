import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A private Kubernetes API stand-in (`scripts/fixtures/kube_standin.py`, a test fixture) for one test, on a
/// free loopback port with its own kubeconfig, so tests that reset or fault the cluster cannot disturb each
/// other. Stopped by its PID when the value goes away.
public final class KubeStandIn: @unchecked Sendable {
    public let url: String
    public let kubeconfig: String
    public let directory: String
    private let process: Process

    /// With `imageLayout` (drctl's image, `scripts/image build`), the stand-in's kubelet runs the pods of Jobs
    /// from that image as runc containers (needs root), with PersistentVolumeClaims as folders under
    /// `kubeletDirectory/pvc/NAMESPACE/CLAIM`. `podForwards`: `--pod-forwards` rules (JSON), where
    /// `kubectl port-forward` to the simulated pods reaches, e.g.
    /// `[{"selector": "app.kubernetes.io/name=postgresql", "port": 5432, "to": "127.0.0.1:PGPORT"}]`.
    public init(projectRoot: String, imageLayout: String? = nil, podForwards: String? = nil) throws {
        let python = projectRoot + "/.tools/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw KubeStandInError.notStarted("\(python) is missing: run scripts/bootstrap")
        }
        directory = NSTemporaryDirectory() + "drctl-kube-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        kubeconfig = directory + "/kubeconfig"
        let portFile = directory + "/port"
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            projectRoot + "/scripts/fixtures/kube_standin.py", "--port", "0", "--port-file", portFile,
            "--kubeconfig", kubeconfig, "--log", directory + "/requests.log",
        ]
        if let imageLayout {
            process.arguments? += ["--kubelet-dir", directory + "/kubelet", "--image-layout", imageLayout]
        }
        if let podForwards {
            try podForwards.write(toFile: directory + "/pod-forwards.json", atomically: true, encoding: .utf8)
            process.arguments? += ["--pod-forwards", directory + "/pod-forwards.json"]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var port: String?
        // Python loading the official schemas takes a second alone and far longer on a loaded machine.
        for _ in 0..<1200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            {
                port = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard let port else {
            process.terminate()
            throw KubeStandInError.notStarted("the kube stand-in did not write its port file within 60 s")
        }
        url = "http://127.0.0.1:\(port)"
    }

    /// The kubelet's folder: `pvc/NAMESPACE/CLAIM` holds what Jobs wrote to their claims.
    public var kubeletDirectory: String { directory + "/kubelet" }

    /// One line per API request (method, path, status), for counting what a client did.
    public var requestLog: String { (try? String(contentsOfFile: directory + "/requests.log", encoding: .utf8)) ?? "" }

    deinit {
        Self.stop(pid: process.processIdentifier)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// SIGKILL and reap. A throwaway fixture has nothing to save, and a child of the test process may inherit a
    /// blocked SIGTERM. Not `Process.waitUntilExit()`: it spins forever on Linux once swift-subprocess (the live
    /// `CommandRunner`) has run children in the same test process.
    private static func stop(pid: Int32) {
        guard pid > 0, kill(pid, SIGKILL) == 0 else { return }
        var status: Int32 = 0
        for _ in 0..<100 {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped == -1 && errno == ECHILD) { return }
            usleep(20_000)
        }
    }

    /// `POST /_standin/faults` with a JSON body, e.g. `{"neverReadyImages": ["nginx:broken"]}`.
    public func setFaults(_ json: String) async throws {
        try await request("POST", "/_standin/faults", body: json)
    }

    public func clearFaults() async throws { try await request("DELETE", "/_standin/faults") }

    /// `GET /_standin/apps/NS/DEPLOYMENT/readyz` status code.
    public func readyz(namespace: String, deployment: String) async throws -> Int {
        try await request("GET", "/_standin/apps/\(namespace)/\(deployment)/readyz")
    }

    public func readyzURL(namespace: String, deployment: String) -> String {
        "\(url)/_standin/apps/\(namespace)/\(deployment)/readyz"
    }

    @discardableResult
    private func request(_ method: String, _ path: String, body: String? = nil) async throws -> Int {
        guard let target = URL(string: url + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: target)
        request.httpMethod = method
        if let body { request.httpBody = Data(body.utf8) }
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
}

public enum KubeStandInError: Error, LocalizedError {
    case notStarted(String)

    public var errorDescription: String? {
        switch self {
        case .notStarted(let reason): return reason
        }
    }
}
