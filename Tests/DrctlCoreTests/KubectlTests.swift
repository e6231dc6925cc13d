import Foundation
import Testing

@testable import DrctlCore

@Suite struct KubectlTests {
    let kubectl = Kubectl(context: "production", namespace: "production", kubeconfig: "/etc/kube/config")
    let target = ["--kubeconfig", "/etc/kube/config", "--context", "production", "--namespace", "production"]
    let clusterTarget = ["--kubeconfig", "/etc/kube/config", "--context", "production"]

    @Test func versionIsClusterScoped() {
        #expect(kubectl.version().executable == "kubectl")
        #expect(kubectl.version().arguments == clusterTarget + ["version", "-o", "json"])
    }

    @Test func omitsUnsetTargetFlags() {
        #expect(Kubectl().getPods().arguments == ["get", "pods", "-o", "json"])
        #expect(Kubectl(executable: "/usr/bin/kubectl").getPods().executable == "/usr/bin/kubectl")
    }

    @Test func namespaces() {
        #expect(kubectl.getNamespaces().arguments == clusterTarget + ["get", "namespaces", "-o", "json"])
        #expect(
            kubectl.getNamespace("production").arguments == clusterTarget + [
                "get", "namespace", "production", "-o", "name",
            ])
        #expect(
            kubectl.createNamespace("production").arguments == clusterTarget + ["create", "namespace", "production"])
    }

    @Test func gets() {
        #expect(
            kubectl.getPods(selector: "app=valeo-erp").arguments == target + [
                "get", "pods", "-o", "json", "--selector", "app=valeo-erp",
            ])
        #expect(kubectl.getDeployments().arguments == target + ["get", "deployments", "-o", "json"])
        #expect(
            kubectl.getDeployment("valeo-erp").arguments == target + ["get", "deployment", "valeo-erp", "-o", "json"])
        #expect(
            kubectl.deploymentReplicas("valeo-erp").arguments
                == target + ["get", "deployment", "valeo-erp", "-o", "jsonpath={.spec.replicas}"])
    }

    @Test func scaleRolloutWaitApply() {
        #expect(
            kubectl.scaleDeployment("valeo-erp", replicas: 0).arguments == target + [
                "scale", "deployment", "valeo-erp", "--replicas", "0",
            ])
        #expect(
            kubectl.rolloutStatus(deployment: "valeo-erp", timeout: .seconds(300)).arguments
                == target + ["rollout", "status", "deployment/valeo-erp", "--timeout", "300s"])
        #expect(
            kubectl.wait(for: .condition("Available"), resource: "deployment/valeo-erp", timeout: .seconds(90))
                .arguments
                == target + ["wait", "--for=condition=Available", "deployment/valeo-erp", "--timeout", "90s"])
        #expect(
            kubectl.wait(for: .delete, resource: "pod/x", timeout: .milliseconds(1500)).arguments
                == target + ["wait", "--for=delete", "pod/x", "--timeout", "2s"])
        #expect(GoDuration.format(.zero) == "1s")
        #expect(GoDuration.format(.seconds(3600)) == "3600s")
        #expect(kubectl.apply(file: "ns.yaml").arguments == target + ["apply", "--server-side", "-f", "ns.yaml"])
        #expect(kubectl.apply(file: "ns.yaml", serverSide: false).arguments == target + ["apply", "-f", "ns.yaml"])
        #expect(
            kubectl.apply(file: "ns.yaml", validate: false).arguments
                == target + ["apply", "--server-side", "--validate=false", "-f", "ns.yaml"])
    }

    // Captured from kubectl 1.32 against an unreachable server: it prints the client part and exits 1.
    @Test func parsesVersionWithAndWithoutServer() throws {
        let clientOnly = """
            {
              "clientVersion": {"major": "1", "minor": "32", "gitVersion": "v1.32.4-dispatcher", "platform": "linux/amd64"},
              "kustomizeVersion": "v5.5.0"
            }
            """
        #expect(
            try Kubectl.parseVersion(Data(clientOnly.utf8))
                == KubernetesVersionInfo(client: "v1.32.4-dispatcher", server: nil))
        let both = """
            {"clientVersion":{"gitVersion":"v1.32.4"},"serverVersion":{"gitVersion":"v1.32.0","major":"1","minor":"32"}}
            """
        #expect(try Kubectl.parseVersion(Data(both.utf8)).server == "v1.32.0")
    }

    @Test func parsesDeploymentOmittingZeroCounts() throws {
        let json = """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"valeo-erp","namespace":"production"},
             "spec":{"replicas":3},
             "status":{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"readyReplicas":2,
               "conditions":[{"type":"Available","status":"False","reason":"MinimumReplicasUnavailable","message":"Deployment does not have minimum availability."},
                             {"type":"Progressing","status":"True","reason":"ReplicaSetUpdated"}]}}
            """
        let deployment = try Kubectl.parseDeployment(Data(json.utf8))
        #expect(deployment.name == "valeo-erp")
        #expect(deployment.replicas == 3)
        #expect(deployment.readyReplicas == 2)
        #expect(deployment.availableReplicas == 0)
        #expect(!deployment.isFullyAvailable)
        #expect(deployment.condition("Available")?.isTrue == false)
        #expect(deployment.condition("Progressing")?.reason == "ReplicaSetUpdated")
    }

    /// The game day's never-ready fault retags the first container of the pod template.
    @Test func parsesTheDeploymentsContainers() throws {
        let json = """
            {"metadata":{"name":"valeo-erp"},"spec":{"replicas":1,"template":{"metadata":{},"spec":{"containers":[
              {"name":"app","image":"nginx:1.27","ports":[{"containerPort":80}]},{"name":"sidecar","image":"busybox"}]}}},
             "status":{}}
            """
        let deployment = try Kubectl.parseDeployment(Data(json.utf8))
        #expect(
            deployment.containers == [
                KubernetesContainer(name: "app", image: "nginx:1.27"),
                KubernetesContainer(name: "sidecar", image: "busybox"),
            ])
    }

    @Test func parsesDeploymentListAndScaledToZero() throws {
        let json = """
            {"apiVersion":"v1","kind":"List","items":[
              {"metadata":{"name":"a"},"spec":{"replicas":0},"status":{}},
              {"metadata":{"name":"b"},"spec":{},"status":{"replicas":1,"readyReplicas":1,"updatedReplicas":1,"availableReplicas":1}}
            ]}
            """
        let deployments = try Kubectl.parseDeployments(Data(json.utf8))
        #expect(deployments.map(\.name) == ["a", "b"])
        #expect(deployments[0].containers.isEmpty)
        #expect(deployments[0].isFullyAvailable)
        #expect(deployments[1].replicas == 1)
        #expect(deployments[1].isFullyAvailable)
    }

    @Test func parsesPodsAndNamespaces() throws {
        let pods = """
            {"kind":"List","items":[
              {"metadata":{"name":"valeo-erp-7d9-abc","labels":{"app":"valeo-erp"}},
               "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}},
              {"metadata":{"name":"valeo-erp-7d9-def"},"status":{"phase":"Pending"}}
            ]}
            """
        let parsed = try Kubectl.parsePods(Data(pods.utf8))
        #expect(parsed.map(\.isReady) == [true, false])
        #expect(parsed.map(\.phase) == ["Running", "Pending"])
        #expect(parsed[0].labels["app"] == "valeo-erp")
        let namespaces =
            #"{"kind":"NamespaceList","items":[{"metadata":{"name":"default"}},{"metadata":{"name":"production"}}]}"#
        #expect(try Kubectl.parseNamespaces(Data(namespaces.utf8)) == ["default", "production"])
        #expect(try Kubectl.parseNamespaces(Data(#"{"kind":"NamespaceList","items":null}"#.utf8)) == [])
    }

    @Test func replicasAndUnreadableOutput() throws {
        #expect(try Kubectl.parseReplicas("3") == 3)
        #expect(try Kubectl.parseReplicas("") == 1)
        #expect(throws: ToolOutputError.self) { try Kubectl.parseReplicas("three") }
        let error = #expect(throws: ToolOutputError.self) { try Kubectl.parseDeployment(Data("{\"spec\":{}}".utf8)) }
        #expect(error?.localizedDescription.contains("missing key metadata") == true)
    }

    // Captured from kubectl 1.32 against the kube stand-in.
    @Test func notFoundIsToldApartFromOtherFailures() {
        let probe = Kubectl().getNamespace("nope")
        #expect(
            Kubectl.isNotFound(
                CommandResult(
                    invocation: probe, status: .exited(1),
                    standardErrorTail: #"Error from server (NotFound): namespaces "nope" not found"#)))
        #expect(
            !Kubectl.isNotFound(
                CommandResult(
                    invocation: probe, status: .exited(1),
                    standardErrorTail:
                        "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"
                )))
        #expect(!Kubectl.isNotFound(CommandResult(invocation: probe, status: .exited(0))))
    }
}
